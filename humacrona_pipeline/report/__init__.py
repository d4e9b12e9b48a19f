"""The sync report: the data (`summary`), the HTML page and plain text (`html`) and the email
(`email_message`). Pure Python and Jinja2; no Dagster, no HTTP.

Import from the modules: the package imports nothing, so that `report.times` (the code location's email
resource names its time zone with it) does not bring pandas and Jinja2 with it."""
