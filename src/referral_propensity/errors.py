"""Exceptions raised for bad input, missing models and failed writes."""


class InputValidationError(ValueError):
    """Input data or settings that the pipeline cannot use.

    The message names the table, the column, the first offending rows and
    what to do about it.
    """


class EmptyTableError(InputValidationError):
    """An input file with no header or no data rows."""


class ModelNotFoundError(LookupError):
    """A registered model, alias or model URI that does not resolve."""


class OutputWriteError(OSError):
    """An output file that could not be written; earlier outputs are intact."""
