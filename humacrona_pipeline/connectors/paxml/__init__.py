"""PAXml 2.0, the documented file channel to Crona Lön: a Crona export read into the rows the API path gives
(`read.employee_rows`), and one import document written from per-employee changes (`write.import_document`).
Every document read or written is validated against the published schema shipped beside this file
(`schema.SCHEMA_FILE`). lxml is imported inside the functions, so loading the code location stays light."""

from .schema import PaxmlError, UnwritableValueError

__all__ = ["PaxmlError", "UnwritableValueError"]
