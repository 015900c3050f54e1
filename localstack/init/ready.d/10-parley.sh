#!/bin/bash
# Runs inside the LocalStack container once it is ready: the JWT secret the
# functions read by name, and the Kafka topics of the catalog.
set -euo pipefail

JWT_SECRET_NAME="${PARLEY_JWT_SECRET_NAME:-parley/jwt-secret}"
KAFKA_BOOTSTRAP="${PARLEY_KAFKA_BOOTSTRAP:-kafka:9092}"

if awslocal secretsmanager describe-secret --secret-id "$JWT_SECRET_NAME" >/dev/null 2>&1; then
  echo "parley: secret $JWT_SECRET_NAME already there"
else
  awslocal secretsmanager create-secret \
    --name "$JWT_SECRET_NAME" \
    --description "Parley JWT signing secret (LocalStack)" \
    --secret-string "$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" >/dev/null
  echo "parley: secret $JWT_SECRET_NAME created"
fi

# The broker may still be electing its controller when LocalStack is ready.
for attempt in $(seq 1 30); do
  if python3 /etc/localstack/init/parley/kafka_topics.py \
      --bootstrap "$KAFKA_BOOTSTRAP" \
      --catalog /opt/parley/events/catalog.py; then
    exit 0
  fi
  echo "parley: Kafka at $KAFKA_BOOTSTRAP not ready (attempt $attempt), retrying"
  sleep 2
done
echo "parley: could not create the Kafka topics on $KAFKA_BOOTSTRAP" >&2
exit 1
