-- The prices the pools' providers gave for each instance type, from the
-- moment each was seen (Spot prices move): hosts and the attempts on them
-- are priced at the price of each moment.
CREATE TABLE prices (
    pool          TEXT NOT NULL,
    instance_type TEXT NOT NULL,
    at            TEXT NOT NULL,
    price         REAL NOT NULL,
    PRIMARY KEY (pool, instance_type, at)
);
