-- Stock movements an admin makes: adjustments carry a reason code and a note; transfers between locations are records.
ALTER TABLE inventory_ledger ADD COLUMN reason_code TEXT;
ALTER TABLE inventory_ledger ADD COLUMN note TEXT;
CREATE INDEX inventory_ledger_by_reference ON inventory_ledger (reference);
CREATE INDEX inventory_ledger_by_location ON inventory_ledger (location_id, id);

CREATE TABLE inventory_transfers (
  id TEXT PRIMARY KEY,
  variant_id TEXT NOT NULL REFERENCES variants(id),
  from_location_id TEXT NOT NULL REFERENCES stock_locations(id),
  to_location_id TEXT NOT NULL REFERENCES stock_locations(id),
  quantity BIGINT NOT NULL CHECK (quantity > 0),
  note TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX inventory_transfers_by_variant ON inventory_transfers (variant_id, id);
