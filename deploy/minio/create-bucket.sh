#!/bin/sh
# Waits for MinIO, then creates the bucket the s3 output writes to (idempotent).
set -eu
BUCKET=${BUCKET:-peregrine-alerts}
i=0
until mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then
    echo "MinIO did not answer at http://minio:9000 within 60 s" >&2
    exit 1
  fi
  sleep 1
done
mc mb --ignore-existing "local/$BUCKET"
echo "bucket $BUCKET ready"
