// RFC 9457 problem+json responses; the one place where an ErrorKind becomes an HTTP status.
#pragma once

#include "common/result.h"
#include "http/message.h"

namespace quanqu::http {

// The HTTP status for each kind of error.
unsigned status_for(ErrorKind kind);

// A problem+json response: type, title, status, detail, code, and `errors` for field errors:
// the first kMaxReportedFieldErrors of them, with `errors_truncated` (the count of the rest) when
// there were more.
Response problem(const Error& error);
// The same with an explicit status, for protocol-level errors (405, 413, 415).
Response problem(const Error& error, unsigned status);

}  // namespace quanqu::http
