// PostGraphile 5 for bench/: the hub's database as hub_service, schemas public and bench, on
// 127.0.0.1:$PORT/graphql. The hub's bearer token (HS256 with HUB_SECRET, issuer "hub") sets
// the same transaction-local settings hub/db.py sets (hub.role, hub.municipality,
// hub.provider, hub.actor, statement_timeout), so the same row-level security applies.
// A missing or bad token sets nothing: every policy then fails closed.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const secret = process.env.HUB_SECRET;
const port = Number(process.env.PORT || 5678);
const timeout = process.env.HUB_STATEMENT_TIMEOUT_MS || "15000";
if (!secret || !process.env.DATABASE_URL) {
  throw new Error("set DATABASE_URL (the hub_service login) and HUB_SECRET");
}

function b64url(text) {
  return Buffer.from(text, "base64url");
}

function claimsOf(header) {
  const [kind, token] = (header || "").split(" ");
  if (kind?.toLowerCase() !== "bearer" || !token) return null;
  const [head, body, signature] = token.split(".");
  if (!signature) return null;
  const expected = createHmac("sha256", secret).update(`${head}.${body}`).digest();
  const given = b64url(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  if (JSON.parse(b64url(head).toString()).alg !== "HS256") return null;
  const claims = JSON.parse(b64url(body).toString());
  if (claims.iss !== "hub" || !(claims.exp > Date.now() / 1000)) return null;
  return claims;
}

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public", "bench"],
      poolConfig: { max: Number(process.env.POOL_MAX || 10) },
    }),
  ],
  grafserv: { port, graphqlPath: "/graphql", graphiql: false, watch: false },
  grafast: {
    explain: false,
    context(requestContext) {
      const claims = claimsOf(requestContext.node?.req?.headers?.authorization);
      if (!claims) return { pgSettings: { statement_timeout: timeout } };
      return {
        pgSettings: {
          "hub.role": String(claims.role || ""),
          "hub.municipality": String(claims.municipality || ""),
          "hub.provider": String(claims.provider || ""),
          "hub.actor": String(claims.sub || ""),
          statement_timeout: timeout,
        },
      };
    },
  },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.once("listening", () => console.error(`postgraphile on 127.0.0.1:${port}/graphql`));
await serv.addTo(server);
server.listen(port, "127.0.0.1");
