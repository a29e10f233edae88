// Runs every server audit of graphql-http (GraphQL over HTTP conformance) against a running hub
// and prints one JSON line per audit: {"id", "status": "ok"|"notice"|"warn"|"error", "name",
// "reason" (null when ok), "httpStatus" (of the response that failed it)}. The verdict is the
// caller's (tests/test_http_audit.py); this script exits 0 once every audit has run. An audit
// that throws (the server unreachable, a broken response) is printed as an "error" with the
// thrown message as its reason.
//
//   HUB_URL=http://host:port/graphql HUB_TOKEN=<bearer token> node audit.mjs
import { serverAudits } from 'graphql-http';

const url = process.env.HUB_URL;
const token = process.env.HUB_TOKEN;
if (!url || !token) {
  console.error('set HUB_URL (the /graphql endpoint) and HUB_TOKEN (a bearer token)');
  process.exit(2);
}

// The audits' own requests carry no credentials; the hub answers 401 to those, so every
// request gets the token, whatever headers the audit sets.
function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

// One at a time: a deterministic order and no burst on the hub's small test pool.
for (const audit of serverAudits({ url, fetchFn })) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    result = { id: audit.id, name: audit.name, status: 'error', reason: `fatal: ${err}` };
  }
  const line = {
    id: result.id,
    status: result.status,
    name: result.name,
    reason: result.status === 'ok' ? null : result.reason,
  };
  if (result.response) {
    line.httpStatus = result.response.status;
  }
  console.log(JSON.stringify(line));
}
