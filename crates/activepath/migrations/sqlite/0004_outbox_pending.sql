-- The outbox worker takes the message due longest ago among those not yet
-- sent. Sent mail is kept for 30 days; without this index each claim could
-- step over all of it. Only unsent rows are in the index, so it stays small.
CREATE INDEX mail_outbox_pending ON mail_outbox (next_attempt_at, id) WHERE sent_at IS NULL;
