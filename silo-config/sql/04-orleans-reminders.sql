-- =============================================================================
-- Actors :: Orleans ADO.NET providers on PostgreSQL -- 04: reminders
-- (Microsoft.Orleans.Reminders.AdoNet: AdoNetReminderTable)
--
-- Requires 01-orleans-main.sql. Idempotent; see 01 for the conventions.
--
-- Contract summary (Orleans 10.4.x, Npgsql):
--   @ServiceId, @GrainId (GrainId.ToString()), @ReminderName -> text
--   @StartTime -> timestamptz (UTC)
--   @Period    -> integer, or bigint when the period exceeds int.MaxValue ms;
--                 stored as bigint milliseconds and read back with GetInt64
--   @GrainHash, @BeginHash, @EndHash -> integer: the grain's uniform hash, a
--                 uint that Orleans casts to int. The ring range (Begin, End]
--                 is evaluated with SIGNED comparisons: Orleans picks
--                 ReadRangeRows1Key when (int)Begin < (int)End, else
--                 ReadRangeRows2Key (wrapped range). So grainhash must stay
--                 a signed 32-bit integer column.
--   @Version   -> integer (the ETag being removed)
--   Reads return GrainId, ReminderName, StartTime, Period, Version by name.
--   Upsert returns the row's new version in column "Version"; delete returns
--   a single boolean-convertible value (true = the row with that ETag went).
-- =============================================================================

SELECT pg_advisory_xact_lock(71895411028595);

CREATE TABLE IF NOT EXISTS orleansreminderstable
(
    serviceid    text           NOT NULL,
    grainid      text           NOT NULL,
    remindername text           NOT NULL,
    starttime    timestamptz(3) NOT NULL,
    period       bigint         NOT NULL,   -- milliseconds
    grainhash    integer        NOT NULL,   -- (int)GrainId.GetUniformHashCode()
    version      integer        NOT NULL,   -- ETag

    CONSTRAINT orleansreminderstable_pk PRIMARY KEY (serviceid, grainid, remindername)
);

-- Reminder service instances load the reminders of their hash-ring range.
CREATE INDEX IF NOT EXISTS ix_orleansreminderstable_grainhash
    ON orleansreminderstable (serviceid, grainhash);

INSERT INTO orleansquery (querykey, querytext)
VALUES
-- Insert (version 0) or overwrite (version moved on); returns the new ETag.
('UpsertReminderRowKey', $q$
    INSERT INTO orleansreminderstable AS r
        (serviceid, grainid, remindername, starttime, period, grainhash, version)
    VALUES
        (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
    ON CONFLICT (serviceid, grainid, remindername) DO UPDATE
        SET starttime = EXCLUDED.starttime,
            period    = EXCLUDED.period,
            grainhash = EXCLUDED.grainhash,
            version   = actors_orleans_next_version(r.version)
    RETURNING r.version AS "Version";
$q$),

-- All reminders of one grain.
('ReadReminderRowsKey', $q$
    SELECT grainid      AS "GrainId",
           remindername AS "ReminderName",
           starttime    AS "StartTime",
           period       AS "Period",
           version      AS "Version"
      FROM orleansreminderstable
     WHERE serviceid = @ServiceId
       AND grainid = @GrainId;
$q$),

-- One reminder (no row if it does not exist).
('ReadReminderRowKey', $q$
    SELECT grainid      AS "GrainId",
           remindername AS "ReminderName",
           starttime    AS "StartTime",
           period       AS "Period",
           version      AS "Version"
      FROM orleansreminderstable
     WHERE serviceid = @ServiceId
       AND grainid = @GrainId
       AND remindername = @ReminderName;
$q$),

-- Hash range (Begin, End] that does not wrap (signed Begin < End).
('ReadRangeRows1Key', $q$
    SELECT grainid      AS "GrainId",
           remindername AS "ReminderName",
           starttime    AS "StartTime",
           period       AS "Period",
           version      AS "Version"
      FROM orleansreminderstable
     WHERE serviceid = @ServiceId
       AND grainhash > @BeginHash
       AND grainhash <= @EndHash;
$q$),

-- Hash range (Begin, End] that wraps around (signed Begin >= End).
('ReadRangeRows2Key', $q$
    SELECT grainid      AS "GrainId",
           remindername AS "ReminderName",
           starttime    AS "StartTime",
           period       AS "Period",
           version      AS "Version"
      FROM orleansreminderstable
     WHERE serviceid = @ServiceId
       AND (grainhash > @BeginHash OR grainhash <= @EndHash);
$q$),

-- Removes a reminder only if it still carries the ETag the caller holds.
('DeleteReminderRowKey', $q$
    WITH removed AS (
        DELETE FROM orleansreminderstable
         WHERE serviceid = @ServiceId
           AND grainid = @GrainId
           AND remindername = @ReminderName
           AND version = @Version
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM removed) AS "Deleted";
$q$),

-- Removes every reminder of the service (test / maintenance only).
('DeleteReminderRowsKey', $q$
    DELETE FROM orleansreminderstable
     WHERE serviceid = @ServiceId;
$q$)
ON CONFLICT (querykey) DO UPDATE
    SET querytext = EXCLUDED.querytext
    WHERE orleansquery.querytext IS DISTINCT FROM EXCLUDED.querytext;
