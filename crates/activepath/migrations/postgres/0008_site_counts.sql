-- Site figures: per day (in the clinic's time zone), how often each public
-- page was viewed and how many times each step of the self-assessment and
-- booking was reached. Only counts: no addresses, no browsers, no cookies,
-- no identifiers of any kind.
CREATE TABLE site_counts (
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (day, kind, name)
);
