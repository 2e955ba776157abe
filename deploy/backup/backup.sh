#!/usr/bin/env bash
# Nightly backup. The database holds only ciphertext and plaintext metadata (SPEC §3); the key
# file holds the pepper and index key. Store the two in different places: together they allow
# offline guessing of receipts, and the escrow private key (kept offline) opens everything.
set -euo pipefail
: "${XUNCHA_DATA_DIR:=/var/lib/xuncha}"
: "${BACKUP_DIR:=/var/backups/xuncha}"
: "${PGDATABASE:=xuncha}"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
umask 077
mkdir -p "$BACKUP_DIR/db" "$BACKUP_DIR/keys"
if [ -f "$XUNCHA_DATA_DIR/xuncha.sqlite3" ] && [ -z "${XUNCHA_DATABASE_URL:-}" ]; then
  sqlite3 "$XUNCHA_DATA_DIR/xuncha.sqlite3" ".backup '$BACKUP_DIR/db/xuncha-$stamp.sqlite3'"
else
  pg_dump --format=custom --file="$BACKUP_DIR/db/xuncha-$stamp.dump" "$PGDATABASE"
fi
cp "${XUNCHA_KEY_FILE:-$XUNCHA_DATA_DIR/xuncha.keys}" "$BACKUP_DIR/keys/xuncha-$stamp.keys"
find "$BACKUP_DIR/db" -type f -mtime +30 -delete
echo "backup $stamp written to $BACKUP_DIR (move keys/ to separate media)"
