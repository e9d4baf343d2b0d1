-- =============================================================================
-- Actors :: Orleans ADO.NET providers on PostgreSQL -- 03: grain persistence
-- (Microsoft.Orleans.Persistence.AdoNet: AdoNetGrainStorage)
--
-- Requires 01-orleans-main.sql. Idempotent; see 01 for the conventions.
--
-- Contract summary (Orleans 10.4.x, Npgsql):
--   The provider loads only WriteToStorageKey, ReadFromStorageKey,
--   ClearStorageKey and (optional; needed for DeleteStateOnClear = true)
--   DeleteStorageKey. All four get the grain's natural key:
--     @GrainIdHash, @GrainTypeHash  integer (hashes of id / type, may be < 0)
--     @GrainIdN0, @GrainIdN1        bigint  (GUID halves, or 0 + integer key)
--     @GrainTypeString              text    (grain type, generics normalised)
--     @GrainIdExtensionString       text    (key extension, or the whole key
--                                            of string-keyed grains; may be NULL)
--     @ServiceId                    text    (ClusterOptions.ServiceId)
--   and, except for reads, @GrainStateVersion integer (the grain's ETag; NULL
--   when the grain believes no record exists). Writes add @PayloadBinary bytea.
--   Version semantics: an ETag is the row's integer version. Write/Clear/Delete
--   return the new version in their first (only) column; returning nothing,
--   NULL, or the unchanged ETag makes Orleans throw InconsistentStateException.
--   A record is written with version 1; every write or clear moves it on.
--   Clear keeps the row (payload NULL, version moved on) so the ETag chain
--   continues; Delete removes the row and reports version + 1.
--   Read returns columns "PayloadBinary" and "Version" (by name) or no row.
-- =============================================================================

SELECT pg_advisory_xact_lock(71895411028595);

CREATE TABLE IF NOT EXISTS orleansstorage
(
    grainidhash            integer     NOT NULL,
    grainidn0              bigint      NOT NULL,
    grainidn1              bigint      NOT NULL,
    graintypehash          integer     NOT NULL,
    graintypestring        text        NOT NULL,
    grainidextensionstring text        NULL,
    serviceid              text        NOT NULL,
    payloadbinary          bytea       NULL,           -- NULL after ClearState
    modifiedon             timestamptz NOT NULL DEFAULT now(),
    version                integer     NOT NULL
);

-- Lookup index: every statement below filters on both hashes first.
CREATE INDEX IF NOT EXISTS ix_orleansstorage
    ON orleansstorage (grainidhash, graintypehash);

-- Writes a grain's state.
--   Expected version given: compare-and-swap on that version.
--   Expected version NULL : first write, insert version 1 unless some row for
--                           the grain already exists. A transaction-scoped
--                           advisory lock on the two hashes serialises
--                           concurrent first writes (e.g. a duplicate
--                           activation), so only one of them can succeed.
-- Returns the new version, or NULL when the write was rejected.
CREATE OR REPLACE FUNCTION actors_orleans_grain_state_write(
    p_grain_id_hash    integer,
    p_grain_id_n0      bigint,
    p_grain_id_n1      bigint,
    p_grain_type_hash  integer,
    p_grain_type       text,
    p_key_extension    text,
    p_service_id       text,
    p_expected_version integer,
    p_payload          bytea)
    RETURNS integer
    LANGUAGE plpgsql
AS $fn$
DECLARE
    v_new_version integer;
BEGIN
    IF p_expected_version IS NOT NULL THEN
        UPDATE orleansstorage
           SET payloadbinary = p_payload,
               modifiedon    = now(),
               version       = actors_orleans_next_version(version)
         WHERE grainidhash = p_grain_id_hash
           AND graintypehash = p_grain_type_hash
           AND grainidn0 = p_grain_id_n0
           AND grainidn1 = p_grain_id_n1
           AND graintypestring = p_grain_type
           AND grainidextensionstring IS NOT DISTINCT FROM p_key_extension
           AND serviceid = p_service_id
           AND version = p_expected_version
        RETURNING version INTO v_new_version;
        RETURN v_new_version;
    END IF;

    PERFORM pg_advisory_xact_lock(p_grain_id_hash, p_grain_type_hash);

    -- A new statement takes a new snapshot, so a row committed by a writer
    -- that held the lock before us is visible here.
    INSERT INTO orleansstorage
        (grainidhash, grainidn0, grainidn1, graintypehash, graintypestring,
         grainidextensionstring, serviceid, payloadbinary, modifiedon, version)
    SELECT p_grain_id_hash, p_grain_id_n0, p_grain_id_n1, p_grain_type_hash, p_grain_type,
           p_key_extension, p_service_id, p_payload, now(), 1
     WHERE NOT EXISTS (
               SELECT 1
                 FROM orleansstorage
                WHERE grainidhash = p_grain_id_hash
                  AND graintypehash = p_grain_type_hash
                  AND grainidn0 = p_grain_id_n0
                  AND grainidn1 = p_grain_id_n1
                  AND graintypestring = p_grain_type
                  AND grainidextensionstring IS NOT DISTINCT FROM p_key_extension
                  AND serviceid = p_service_id)
    RETURNING version INTO v_new_version;
    RETURN v_new_version;
END;
$fn$;

INSERT INTO orleansquery (querykey, querytext)
VALUES
('WriteToStorageKey', $q$
    SELECT actors_orleans_grain_state_write(
               @GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString,
               @GrainIdExtensionString, @ServiceId, @GrainStateVersion, @PayloadBinary)
           AS "NewGrainStateVersion";
$q$),

('ReadFromStorageKey', $q$
    SELECT payloadbinary AS "PayloadBinary",
           version       AS "Version"
      FROM orleansstorage
     WHERE grainidhash = @GrainIdHash
       AND graintypehash = @GrainTypeHash
       AND grainidn0 = @GrainIdN0
       AND grainidn1 = @GrainIdN1
       AND graintypestring = @GrainTypeString
       AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
       AND serviceid = @ServiceId;
$q$),

-- Keeps the row but drops the payload; returns the new version.
('ClearStorageKey', $q$
    UPDATE orleansstorage
       SET payloadbinary = NULL,
           modifiedon    = now(),
           version       = actors_orleans_next_version(version)
     WHERE grainidhash = @GrainIdHash
       AND graintypehash = @GrainTypeHash
       AND grainidn0 = @GrainIdN0
       AND grainidn1 = @GrainIdN1
       AND graintypestring = @GrainTypeString
       AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
       AND serviceid = @ServiceId
       AND version = @GrainStateVersion
    RETURNING version AS "NewGrainStateVersion";
$q$),

-- Used instead of ClearStorageKey when DeleteStateOnClear = true. Orleans only
-- needs a value different from the ETag it sent, so report version + 1.
('DeleteStorageKey', $q$
    DELETE FROM orleansstorage
     WHERE grainidhash = @GrainIdHash
       AND graintypehash = @GrainTypeHash
       AND grainidn0 = @GrainIdN0
       AND grainidn1 = @GrainIdN1
       AND graintypestring = @GrainTypeString
       AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
       AND serviceid = @ServiceId
       AND version = @GrainStateVersion
    RETURNING actors_orleans_next_version(version) AS "NewGrainStateVersion";
$q$)
ON CONFLICT (querykey) DO UPDATE
    SET querytext = EXCLUDED.querytext
    WHERE orleansquery.querytext IS DISTINCT FROM EXCLUDED.querytext;
