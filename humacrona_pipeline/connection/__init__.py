"""The connection between one Huma organisation and one Crona Lön company: the variables that configure it
(`variables`), the checks that prove it works (`check`). Importing this package imports nothing heavy."""
