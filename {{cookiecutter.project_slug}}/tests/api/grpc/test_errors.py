"""The error mapping: every kind has a status, and the details say what REST says."""

import grpc
from google.rpc import error_details_pb2, status_pb2

from {{ cookiecutter.package_name }}.api.grpc.errors import GRPC_STATUS, STATUS_DETAILS_KEY, rich_status
from {{ cookiecutter.package_name }}.domain.errors import (
    ErrorKind,
    FieldViolation,
    StaleVersionError,
    ValidationFailedError,
)


def test_every_error_kind_has_a_grpc_status() -> None:
    assert set(GRPC_STATUS) == set(ErrorKind)


def test_a_stale_version_is_aborted_as_aip_154_asks() -> None:
    assert GRPC_STATUS[ErrorKind.STALE_VERSION] == grpc.StatusCode.ABORTED


def test_details_carry_the_reason_and_every_field() -> None:
    error = ValidationFailedError(FieldViolation("a", "bad a"), FieldViolation("b", "bad b"))

    status = rich_status(error, ("x-request-id", "r-1"))

    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    trailers = dict(status.trailing_metadata)
    assert trailers["x-request-id"] == "r-1"
    details = status_pb2.Status.FromString(trailers[STATUS_DETAILS_KEY])
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    assert details.details[0].Unpack(info)
    assert details.details[1].Unpack(bad_request)
    assert info.reason == "VALIDATION_FAILED"
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("a", "bad a"),
        ("b", "bad b"),
    ]


def test_without_fields_there_is_no_bad_request() -> None:
    status = rich_status(StaleVersionError(3))

    details = status_pb2.Status.FromString(dict(status.trailing_metadata)[STATUS_DETAILS_KEY])

    assert len(details.details) == 1
    assert status.details == "The resource has changed; its current version is 3."
