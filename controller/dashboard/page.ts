import type { SafeHtml } from './html.js';

/**
 * The contract between the dashboard's framework (server.ts: sessions, CSRF, layout,
 * routing) and its pages (pages/*.ts). A page renders the main content of one screen
 * from the cloud's own APIs, called with the session's token, so a member sees exactly
 * what the API lets it see. Pages never touch the database or the token.
 */
export type Service = 'identity' | 'compute' | 'image' | 'network' | 'volume';

export interface ApiResult<T = any> {
  status: number;
  body: T;
}

/** The OpenStack APIs as the signed-in user (in-process, app.inject with X-Auth-Token). */
export interface CloudApi {
  /** Throws ApiError on a status >= 400 (its message is the OpenStack error's message). */
  get<T = any>(service: Service, path: string): Promise<T>;
  post<T = any>(service: Service, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  put<T = any>(service: Service, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  patch<T = any>(service: Service, path: string, body: unknown, contentType?: string): Promise<T>;
  delete<T = any>(service: Service, path: string): Promise<T>;
  /** Never throws on an HTTP status: for pages that show partial data. */
  raw<T = any>(
    method: string,
    service: Service,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResult<T>>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface SessionView {
  userId: string;
  userName: string;
  domainName: string;
  projectId: string;
  projectName: string;
  /** Projects the user may switch to. */
  projects: Array<{ id: string; name: string }>;
  roles: string[];
  isAdmin: boolean;
}

export interface PageContext {
  api: CloudApi;
  session: SessionView;
  /** Hidden-input value every form must post back as `_csrf` (the framework checks it). */
  csrf: string;
  /** `:param` values of the page path, and the query string. */
  params: Record<string, string>;
  query: Record<string, string>;
  /** Base URL of the dashboard ("/dashboard"), for links. */
  base: string;
}

export interface Page {
  /** Path under /dashboard, e.g. "/project/instances" or "/project/instances/:id". */
  path: string;
  title: string;
  /** Navigation entry; omitted for detail pages. */
  nav?: { section: 'project' | 'admin' | 'identity'; label: string; order: number };
  /** Only admins see it (the API would refuse a member anyway). */
  adminOnly?: boolean;
  render(ctx: PageContext): Promise<SafeHtml>;
  /**
   * Form handlers: a POST to the page path with `_action=<name>` (and `_csrf`) runs
   * actions[name] with the form fields; it returns where to go next (Post/Redirect/Get)
   * and a message shown there. A thrown ApiError is shown as an error message.
   */
  actions?: Record<string, (ctx: PageContext, form: Record<string, string>) => Promise<{ redirect: string; message?: string }>>;
}
