"""The client's self-completion page (``ipt serve``): Starlette routes only, calling ipt_measures.handover.

Routes: ``GET /t/<token>`` opens a one-time link (the token is exchanged for a page-session cookie, then a
redirect to an id-free path); ``GET /form`` shows the current item; ``POST /form`` saves one press (CSRF-checked)
and redirects back (POST, then redirect: works without JavaScript, and a reload never resends an answer);
``GET /style.css``; ``GET /healthz`` (tells ``ipt handover`` a server for this record is running). Every
response carries ``Cache-Control: no-store``, a strict Content-Security-Policy, ``X-Frame-Options: DENY`` and
``Referrer-Policy: no-referrer``. The page never receives a score, band, alert, clinician text or identifier.
"""

from .app import create_app

__all__ = ["create_app"]
