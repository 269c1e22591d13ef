-- How the bank answered the order's funds reservation (record_payment):
-- NULL while pending, then 'reserved' or 'declined'. Alone in its file: it alters a table.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS payment TEXT;
