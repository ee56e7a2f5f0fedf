/*
 * aws_error.c - the one table of AWS-visible error codes and the per-protocol names of the
 * generic failures. Envelopes are rendered by aws_router.c from what is set here.
 *
 * Common errors: https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
 */
#include "trailstream/ts_aws.h"

#include <stdio.h>
#include <string.h>

struct code_row {
    const char *code;
    int status;
};

static const struct code_row codes[] = {
    /* authentication, JSON services */
    {"MissingAuthenticationTokenException", 400},
    {"IncompleteSignatureException", 400},
    {"InvalidSignatureException", 400},
    {"UnrecognizedClientException", 400},
    {"ExpiredTokenException", 400},
    {"AccessDeniedException", 400},
    /* authentication, query services */
    {"MissingAuthenticationToken", 403},
    {"IncompleteSignature", 400},
    {"SignatureDoesNotMatch", 403},
    {"InvalidClientTokenId", 403},
    {"RequestExpired", 400},
    {"AccessDenied", 403},
    /* authentication, S3 */
    {"InvalidAccessKeyId", 403},
    {"RequestTimeTooSkewed", 403},
    {"AuthorizationHeaderMalformed", 400},
    {"AuthorizationQueryParametersError", 400},
    {"XAmzContentSHA256Mismatch", 400},
    /* request shape */
    {"UnknownOperationException", 400},
    {"InvalidAction", 400},
    {"SerializationException", 400},
    {"MalformedQueryString", 400},
    {"ValidationException", 400},
    {"ValidationError", 400},
    {"InvalidParameterException", 400},
    {"InvalidParameterValue", 400},
    {"MissingParameter", 400},
    {"MalformedXML", 400},
    {"InvalidArgument", 400},
    {"RequestEntityTooLargeException", 413},
    {"RequestEntityTooLarge", 413},
    {"EntityTooLarge", 400},
    {"NotImplemented", 501},
    {"MethodNotAllowed", 405},
    /* resources */
    {"ResourceNotFoundException", 400},
    {"ResourceAlreadyExistsException", 400},
    {"ResourceInUseException", 400},
    {"LimitExceededException", 400},
    {"InvalidOperationException", 400},
    {"OperationAbortedException", 400},
    {"TooManyTagsException", 400},
    {"DataAlreadyAcceptedException", 400},
    {"InvalidSequenceTokenException", 400},
    {"ExpiredIteratorException", 400},
    {"InvalidArgumentException", 400},
    {"ExpiredNextTokenException", 400},
    {"NoSuchBucket", 404},
    {"NoSuchKey", 404},
    /* server side */
    {"InternalFailure", 500},
    {"InternalError", 500},
    {"ServiceUnavailableException", 503},
    {"ServiceUnavailable", 503},
    {"ThrottlingException", 400},
    {"ProvisionedThroughputExceededException", 400},
};

int ts_aws_error_status(const char *code)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(codes); i++) {
        if (strcmp(codes[i].code, code) == 0) {
            return codes[i].status;
        }
    }
    return 400;
}

int ts_aws_fail(struct ts_aws_error *err, const char *code, const char *fmt, ...)
{
    ts_strlcpy(err->code, code, sizeof(err->code));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->status = 0;
    return TS_EINVAL;
}

/* The code of each generic failure in the JSON, query and S3 protocols (rest-json uses the
 * JSON names). */
static const char *const generic_codes[][3] = {
    [TS_AWS_E_MISSING_AUTH] = {"MissingAuthenticationTokenException", "MissingAuthenticationToken",
                               "AccessDenied"},
    [TS_AWS_E_INCOMPLETE_SIGNATURE] = {"IncompleteSignatureException", "IncompleteSignature",
                                       "AuthorizationHeaderMalformed"},
    [TS_AWS_E_SIGNATURE_MISMATCH] = {"InvalidSignatureException", "SignatureDoesNotMatch",
                                     "SignatureDoesNotMatch"},
    [TS_AWS_E_UNKNOWN_KEY] = {"UnrecognizedClientException", "InvalidClientTokenId",
                              "InvalidAccessKeyId"},
    [TS_AWS_E_SKEWED] = {"InvalidSignatureException", "SignatureDoesNotMatch",
                         "RequestTimeTooSkewed"},
    [TS_AWS_E_PRESIGN_EXPIRED] = {"InvalidSignatureException", "SignatureDoesNotMatch",
                                  "AccessDenied"},
    [TS_AWS_E_UNKNOWN_OPERATION] = {"UnknownOperationException", "InvalidAction",
                                    "NotImplemented"},
    [TS_AWS_E_SERIALIZATION] = {"SerializationException", "MalformedQueryString", "MalformedXML"},
    [TS_AWS_E_VALIDATION] = {"ValidationException", "ValidationError", "InvalidArgument"},
    [TS_AWS_E_TOO_LARGE] = {"RequestEntityTooLargeException", "RequestEntityTooLarge",
                            "EntityTooLarge"},
    [TS_AWS_E_INTERNAL] = {"InternalFailure", "InternalFailure", "InternalError"},
    [TS_AWS_E_UNAVAILABLE] = {"ServiceUnavailableException", "ServiceUnavailable",
                              "ServiceUnavailable"},
    [TS_AWS_E_CONTENT_SHA256_MISMATCH] = {"InvalidSignatureException", "SignatureDoesNotMatch",
                                          "XAmzContentSHA256Mismatch"},
};

int ts_aws_fail_generic(struct ts_aws_error *err, enum ts_aws_protocol proto,
                        enum ts_aws_generic kind, const char *fmt, ...)
{
    int col = proto == TS_AWS_QUERY ? 1 : proto == TS_AWS_REST_XML ? 2 : 0;
    ts_strlcpy(err->code, generic_codes[kind][col], sizeof(err->code));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->status = 0;
    return TS_EINVAL;
}
