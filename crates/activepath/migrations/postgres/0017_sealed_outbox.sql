-- Every outbox message is sealed whole from now on (recipient, subject,
-- bodies, calendar), as the booking mails were: a copy of the database must
-- hold no working link (invitations, password resets, check-ins) and no
-- patient's address. Readable stays only what the delivery log needs: what
-- kind of message it is, the recipient masked (j…@e….com), state and times.
-- The plain columns of the first outbox stay, always empty.
ALTER TABLE mail_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'unrecorded';
ALTER TABLE mail_outbox ADD COLUMN recipient_hint TEXT NOT NULL DEFAULT '';

-- Delivered and dismissed messages keep no content at all; emptying them
-- needs no key. Messages still to be sent are sealed at the next start by
-- the upgrade "0017_sealed_outbox" (it holds the key), which then compacts
-- the database so that freed pages do not keep the old text.
UPDATE mail_outbox
SET recipient = '', subject = '', body_text = '', body_html = '', uid = NULL, sealed = NULL
WHERE sent_at IS NOT NULL OR dismissed_at IS NOT NULL;
