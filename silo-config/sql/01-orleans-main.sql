-- =============================================================================
-- Actors :: Orleans ADO.NET providers on PostgreSQL -- 01: shared objects
--
-- Orleans' ADO.NET providers (clustering, persistence, reminders) never embed
-- SQL of their own. At start-up each provider reads the table below with
--     SELECT QueryKey, QueryText FROM OrleansQuery
-- and afterwards only ever executes those query texts, binding named
-- parameters (@DeploymentId, @GrainIdHash, ...) and reading result columns
-- by name. The remaining scripts (02..04) register the query texts for each
-- provider; this one creates the registry itself plus shared helpers.
--
-- Conventions used by all four scripts:
--   * Idempotent: safe to run on every host start. Tables/indexes use
--     IF NOT EXISTS, functions use CREATE OR REPLACE, query texts are upserted.
--     Nothing is ever dropped or truncated.
--   * Objects live in the connection's default schema (public) and use
--     unquoted (hence lower-case) identifiers: Orleans' own bootstrap SELECT
--     above is unquoted, so the registry must be plain "orleansquery".
--   * Result columns that Orleans reads by name are aliased with quoted
--     names spelled exactly as the C# code spells them ("Version", ...).
--   * Our helper functions are prefixed actors_orleans_.
--   * Each file is meant to be sent as ONE multi-statement command (Npgsql
--     runs such a batch as a single implicit transaction). The advisory lock
--     below then serialises hosts that start at the same moment, which would
--     otherwise race on CREATE TABLE IF NOT EXISTS / CREATE OR REPLACE
--     FUNCTION. (Under psql's autocommit it is harmless but not protective.)
--   * Needs the PL/pgSQL language (present by default) and the default READ
--     COMMITTED isolation level for the Orleans connections.
-- =============================================================================

-- Same lock key in all four files: 0x4163746f7273 = ASCII "Actors".
SELECT pg_advisory_xact_lock(71895411028595);

-- Named query registry read by every Orleans ADO.NET provider.
CREATE TABLE IF NOT EXISTS orleansquery
(
    querykey  varchar(64) NOT NULL,
    querytext text        NOT NULL,

    CONSTRAINT orleansquery_pk PRIMARY KEY (querykey)
);

-- Version counter shared by grain storage and reminders. Orleans keeps these
-- versions as opaque ETags (it int.Parse()s them and only tests equality), so
-- instead of overflowing after 2^31-1 writes we wrap around to 1.
-- (Membership deliberately does NOT use this: Orleans compares membership
-- table versions numerically.)
CREATE OR REPLACE FUNCTION actors_orleans_next_version(current_version integer)
    RETURNS integer
    LANGUAGE sql
    IMMUTABLE
    PARALLEL SAFE
AS $fn$
    SELECT CASE
               WHEN current_version >= 2147483647 THEN 1
               ELSE current_version + 1
           END;
$fn$;
