/**
 * The console page: one HTML document, its stylesheet and its ES module, which imports
 * noVNC's core/rfb.js served from node_modules (no CDN, nothing inline, so the CSP can
 * forbid inline script and style). The page reads the token from the fragment
 * (`vnc.html#token=…`; `?token=` works too), drops it from the address bar (it works
 * once), and opens `<this directory>/websocket` on the same host offering the
 * subprotocols `binary` and `homestack-token.<token>`.
 *
 * Why a fragment and a subprotocol rather than query strings: a fragment never reaches
 * the server and the Sec-WebSocket-Protocol header is not logged, so the token appears
 * in no access log line (Nova had to mask console tokens in its logs for that reason).
 */

/** Prefix of the websocket subprotocol that carries the console token. */
export const TOKEN_PROTOCOL_PREFIX = 'homestack-token.';

/**
 * CSP of the page and its files: scripts, styles and the websocket from this origin
 * only; embeddable by the dashboard (same origin) and nothing else.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'self'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export const VNC_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="vnc.css">
<script type="module" src="vnc.js"></script>
</head>
<body>
<div id="bar">
  <span id="status" data-state="connecting">Connecting…</span>
  <button id="cad" type="button" disabled>Send Ctrl-Alt-Del</button>
</div>
<div id="screen"></div>
</body>
</html>
`;

export const VNC_CSS = `html, body { margin: 0; height: 100%; background: #202020; color: #eee; font: 14px system-ui, sans-serif; }
body { display: flex; flex-direction: column; }
#bar { display: flex; gap: 1em; align-items: center; padding: 4px 8px; background: #333; }
#status[data-state="ok"] { color: #8f8; }
#status[data-state="error"] { color: #f88; }
#screen { flex: 1; overflow: hidden; }
`;

export const VNC_JS = `import RFB from './novnc/core/rfb.js';

const status = document.getElementById('status');
const cad = document.getElementById('cad');
const show = (text, state) => { status.textContent = text; status.dataset.state = state; };
const token = new URLSearchParams(location.hash.slice(1)).get('token') || new URLSearchParams(location.search).get('token') || '';
if (!token) {
  show('This console URL has no token: ask for a new one.', 'error');
} else {
  // Single use: keep it out of the history and the address bar.
  history.replaceState(null, '', location.pathname);
  const dir = location.pathname.replace(/[^/]*$/, '');
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + dir + 'websocket';
  const rfb = new RFB(document.getElementById('screen'), url, { wsProtocols: ['binary', '${TOKEN_PROTOCOL_PREFIX}' + token] });
  rfb.scaleViewport = true;
  rfb.addEventListener('connect', () => { show('Connected', 'ok'); cad.disabled = false; });
  rfb.addEventListener('disconnect', (e) => {
    cad.disabled = true;
    show(e.detail.clean ? 'Disconnected.' : 'Connection refused or lost: a console URL works once and expires after a few minutes; ask for a new one.', 'error');
  });
  rfb.addEventListener('securityfailure', (e) => show('VNC security negotiation failed: ' + (e.detail.reason || e.detail.status), 'error'));
  rfb.addEventListener('desktopname', (e) => { document.title = e.detail.name + ' (console)'; });
  cad.addEventListener('click', () => rfb.sendCtrlAltDel());
}
`;
