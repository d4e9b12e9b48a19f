"""The sandboxes' public default credentials and ports: importable without starting (or importing) a web
framework, so that `humacrona --help` shows them at once."""

DEFAULT_HUMA_CLIENT_ID = "3f6c2a8e-5b1d-4e7a-9c0f-2d4b6e8a1c3f"
DEFAULT_HUMA_CLIENT_SECRET = "9b2e7d4c-1a6f-4c3b-8e5d-0f7a9c2b4d6e"
DEFAULT_CRONA_ACTIVATION_CODE = "CRONA-SANDBOX-7K4M-2Q9X"
DEFAULT_HUMA_PORT = 8701
DEFAULT_CRONA_PORT = 8702
