"""Security headers on every answer; pages with charts get their own script policy."""

from __future__ import annotations

CSP = (
    "default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Vega compiles chart expressions with the Function constructor, and the bundle vl-convert makes
# does not expose Vega's expression interpreter: pages with charts allow 'unsafe-eval' (still no
# inline or third-party script).
CHART_PAGE_CSP = CSP.format(script="'self' 'unsafe-eval'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP.format(script="'self'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
