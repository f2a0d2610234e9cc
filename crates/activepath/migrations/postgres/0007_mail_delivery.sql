-- Mail that cannot be delivered is marked failed for good (the server
-- refused it permanently, or a day of retries did not get it through), so
-- that staff see it in the delivery log and the portal raises an alert
-- until someone retries or dismisses it.
ALTER TABLE mail_outbox ADD COLUMN failed_at BIGINT;
ALTER TABLE mail_outbox ADD COLUMN dismissed_at BIGINT;

DROP INDEX mail_outbox_pending;
CREATE INDEX mail_outbox_pending ON mail_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_failed ON mail_outbox (failed_at)
    WHERE failed_at IS NOT NULL AND dismissed_at IS NULL;
