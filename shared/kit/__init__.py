"""The service kit: one way to build, run, dedupe, relay, migrate and serve every service.

- `service`: `Service` (typed parts), `Consumes` (event type -> handler), `http_app`, `running`;
- `inbox`: `SqlInbox` / `FileInbox` and `transaction` (a handler's writes commit with its mark);
- `replies`: a request/reply service's stored answers, sent again to a repeated request;
- `migrations`: Alembic for every service that owns tables;
- `serve`: the process entry (logging, uvicorn on the service's port).
"""
