-- SQLite's 0006 with DOUBLE PRECISION for REAL.
CREATE TABLE prices (
    pool          TEXT COLLATE "C" NOT NULL,
    instance_type TEXT COLLATE "C" NOT NULL,
    at            TEXT COLLATE "C" NOT NULL,
    price         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (pool, instance_type, at)
);
