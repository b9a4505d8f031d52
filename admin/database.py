"""One database session per request, committed before the response leaves (so a redirect
that says "saved" is never sent for a change that failed to commit), closed after it."""

from __future__ import annotations

from flask import Flask, Response, g
from sqlalchemy.orm import Session, sessionmaker

from admin.context import panel


def db() -> Session:
    if "db" not in g:
        g.db = sessionmaker(panel().engine, expire_on_commit=False)()
    session: Session = g.db
    return session


def _commit(response: Response) -> Response:
    session: Session | None = g.get("db")
    if session is not None and response.status_code < 400:
        session.commit()
    return response


def _close(error: BaseException | None) -> None:
    session: Session | None = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


def init_database(app: Flask) -> None:
    app.after_request(_commit)
    app.teardown_request(_close)
