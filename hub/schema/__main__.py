"""`python -m hub.schema` prints the SDL (committed as schema.graphql)."""

from hub.schema import schema

print(schema.as_str())
