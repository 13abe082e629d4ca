"""The base of every request model: unknown fields refused with a suggestion, text kept sane.

Strict scalar types (`Int`, `Float`, `Bool`) refuse "1" and true where a number is meant,
in JSON bodies and in YAML files alike (both are validated in Python mode).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from brique.domain.suggest import unknown_field

Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
MAX_MONEY = Decimal("999999999999.99")  # what a Numeric(14, 2) column holds
# EUR: finite, >= 0, cents at most, below the column's limit ("0.001" and "1e400" are refused).
Money = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, decimal_places=2, allow_inf_nan=False)]


class StrictModel(BaseModel):
    """A request model: extra fields are errors naming the field and the closest known one."""

    model_config = ConfigDict(extra="forbid")
    nul_allowed: ClassVar[frozenset[str]] = frozenset()  # fields carrying raw output (job logs)

    @model_validator(mode="wrap")
    @classmethod
    def _name_unknown_fields(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            unknown = [e for e in exc.errors() if e["type"] == "extra_forbidden" and len(e["loc"]) == 1]
            if not unknown:
                raise
            known = [f.alias or name for name, f in cls.model_fields.items()]
            raise ValidationError.from_exception_data(
                exc.title, [_unknown(e, known) for e in unknown]
            ) from None

    @field_validator("*", mode="after")
    @classmethod
    def _sane_text(cls, value: Any, info: ValidationInfo) -> Any:
        for text in _strings(value):
            if "\x00" in text and info.field_name not in cls.nul_allowed:
                raise ValueError("must not contain NUL characters")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("must be valid Unicode (no lone surrogates)") from None
        return value


def _unknown(error: Any, known: list[str]) -> InitErrorDetails:
    message = unknown_field(str(error["loc"][0]), known)
    return InitErrorDetails(
        type=PydanticCustomError("unknown_field", "{message}", {"message": message}),
        loc=error["loc"],
        input=error["input"],
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []
