"""Email delivery of the sync report (SMTP, or an outbox folder when no server is configured)."""

from .resources import ENV_VARIABLES, EmailResource, email_resource_from_env

__all__ = ["ENV_VARIABLES", "EmailResource", "email_resource_from_env"]
