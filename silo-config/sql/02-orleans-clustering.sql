-- =============================================================================
-- Actors :: Orleans ADO.NET providers on PostgreSQL -- 02: clustering
-- (Microsoft.Orleans.Clustering.AdoNet: silo membership + gateway list)
--
-- Requires 01-orleans-main.sql. Idempotent; see 01 for the conventions.
--
-- Contract summary (Orleans 10.4.x, Npgsql, "Npgsql" invariant):
--   Parameters arrive typed: @DeploymentId (= ClusterOptions.ClusterId),
--   @Address, @SiloName, @HostName, @SuspectTimes -> text;
--   @Port, @Generation, @Status, @ProxyPort, @Version -> integer;
--   @StartTime, @IAmAliveTime -> timestamptz (UTC DateTime; Npgsql maps
--   DbType.DateTime to timestamptz unless legacy timestamp behaviour is on).
--   Membership reads must return the deployment's version row even when no
--   silo row matches (LEFT JOIN), with these columns, read by name:
--   Address, Port, Generation, SiloName, HostName, Status, ProxyPort,
--   SuspectTimes, StartTime, IAmAliveTime, Version. StartTime IS NULL is how
--   Orleans recognises "version row only, no silo".
--   Insert/Update return one row with one column that converts to boolean.
--   Every successful insert/update of a silo row increments the table version
--   (optimistic concurrency over the whole membership table); heartbeats
--   (UpdateIAmAlivetimeKey) and clean-ups do not.
--   SiloStatus values used below: 3 = Active, 6 = Dead.
-- =============================================================================

SELECT pg_advisory_xact_lock(71895411028595);

-- One row per cluster: the membership table version (ETag) Orleans reads with
-- every membership snapshot and must present again to change a silo row.
CREATE TABLE IF NOT EXISTS orleansmembershipversiontable
(
    deploymentid text           NOT NULL,
    timestamp    timestamptz(3) NOT NULL DEFAULT now(),   -- last change, informational
    version      integer        NOT NULL DEFAULT 0,

    CONSTRAINT orleansmembershipversiontable_pk PRIMARY KEY (deploymentid)
);

-- One row per silo incarnation (address + port + generation).
CREATE TABLE IF NOT EXISTS orleansmembershiptable
(
    deploymentid text           NOT NULL,
    address      text           NOT NULL,
    port         integer        NOT NULL,
    generation   integer        NOT NULL,
    siloname     text           NOT NULL,
    hostname     text           NOT NULL,
    status       integer        NOT NULL,
    proxyport    integer        NOT NULL DEFAULT 0,     -- gateway port, 0 = not a gateway
    suspecttimes text           NULL,                  -- "silo,time|silo,time", Orleans' own format
    starttime    timestamptz(3) NOT NULL,
    iamalivetime timestamptz(3) NOT NULL,

    CONSTRAINT orleansmembershiptable_pk
        PRIMARY KEY (deploymentid, address, port, generation),
    CONSTRAINT orleansmembershiptable_version_fk
        FOREIGN KEY (deploymentid) REFERENCES orleansmembershipversiontable (deploymentid)
);

-- Adds a silo row if, and only if, the membership version is still the one the
-- caller read and the silo row does not exist yet; then bumps the version.
-- The version row is locked first, so concurrent writers are serialised and
-- nothing is changed when either condition fails (no partial writes).
CREATE OR REPLACE FUNCTION actors_orleans_membership_insert(
    p_deployment_id    text,
    p_address          text,
    p_port             integer,
    p_generation       integer,
    p_silo_name        text,
    p_host_name        text,
    p_status           integer,
    p_proxy_port       integer,
    p_start_time       timestamptz,
    p_i_am_alive_time  timestamptz,
    p_expected_version integer)
    RETURNS boolean
    LANGUAGE plpgsql
AS $fn$
BEGIN
    -- Under READ COMMITTED a row changed by a concurrent writer is re-checked
    -- after the lock is granted, so a stale p_expected_version finds nothing.
    PERFORM 1
       FROM orleansmembershipversiontable
      WHERE deploymentid = p_deployment_id
        AND version = p_expected_version
        FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    INSERT INTO orleansmembershiptable
        (deploymentid, address, port, generation, siloname, hostname,
         status, proxyport, starttime, iamalivetime)
    VALUES
        (p_deployment_id, p_address, p_port, p_generation, p_silo_name, p_host_name,
         p_status, COALESCE(p_proxy_port, 0), p_start_time, p_i_am_alive_time)
    ON CONFLICT (deploymentid, address, port, generation) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE orleansmembershipversiontable
       SET version = version + 1,
           timestamp = now()
     WHERE deploymentid = p_deployment_id;
    RETURN true;
END;
$fn$;

-- Changes status / suspicion list / heartbeat of an existing silo row under the
-- same optimistic rule as the insert: version must match, row must exist.
CREATE OR REPLACE FUNCTION actors_orleans_membership_update(
    p_deployment_id    text,
    p_address          text,
    p_port             integer,
    p_generation       integer,
    p_status           integer,
    p_suspect_times    text,
    p_i_am_alive_time  timestamptz,
    p_expected_version integer)
    RETURNS boolean
    LANGUAGE plpgsql
AS $fn$
BEGIN
    PERFORM 1
       FROM orleansmembershipversiontable
      WHERE deploymentid = p_deployment_id
        AND version = p_expected_version
        FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE orleansmembershiptable
       SET status       = p_status,
           suspecttimes = p_suspect_times,
           iamalivetime = p_i_am_alive_time
     WHERE deploymentid = p_deployment_id
       AND address = p_address
       AND port = p_port
       AND generation = p_generation;
    IF NOT FOUND THEN
        RETURN false;
    END IF;

    UPDATE orleansmembershipversiontable
       SET version = version + 1,
           timestamp = now()
     WHERE deploymentid = p_deployment_id;
    RETURN true;
END;
$fn$;

INSERT INTO orleansquery (querykey, querytext)
VALUES
-- Creates the cluster's version row on silo start; true if it was created now.
('InsertMembershipVersionKey', $q$
    WITH created AS (
        INSERT INTO orleansmembershipversiontable (deploymentid)
        VALUES (@DeploymentId)
        ON CONFLICT (deploymentid) DO NOTHING
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM created) AS "Inserted";
$q$),

-- Periodic heartbeat. Result is not checked; the table version is untouched.
('UpdateIAmAlivetimeKey', $q$
    UPDATE orleansmembershiptable
       SET iamalivetime = @IAmAliveTime
     WHERE deploymentid = @DeploymentId
       AND address = @Address
       AND port = @Port
       AND generation = @Generation;
$q$),

('InsertMembershipKey', $q$
    SELECT actors_orleans_membership_insert(
               @DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName,
               @Status, @ProxyPort, @StartTime, @IAmAliveTime, @Version) AS "Inserted";
$q$),

('UpdateMembershipKey', $q$
    SELECT actors_orleans_membership_update(
               @DeploymentId, @Address, @Port, @Generation,
               @Status, @SuspectTimes, @IAmAliveTime, @Version) AS "Updated";
$q$),

-- The version row plus (at most) the one requested silo row.
('MembershipReadRowKey', $q$
    SELECT v.deploymentid  AS "DeploymentId",
           m.address       AS "Address",
           m.port          AS "Port",
           m.generation    AS "Generation",
           m.siloname      AS "SiloName",
           m.hostname      AS "HostName",
           m.status        AS "Status",
           m.proxyport     AS "ProxyPort",
           m.suspecttimes  AS "SuspectTimes",
           m.starttime     AS "StartTime",
           m.iamalivetime  AS "IAmAliveTime",
           v.version       AS "Version"
      FROM orleansmembershipversiontable AS v
      LEFT JOIN orleansmembershiptable AS m
             ON m.deploymentid = v.deploymentid
            AND m.address = @Address
            AND m.port = @Port
            AND m.generation = @Generation
     WHERE v.deploymentid = @DeploymentId;
$q$),

-- The version row joined with every silo row of the cluster (one snapshot).
('MembershipReadAllKey', $q$
    SELECT v.deploymentid  AS "DeploymentId",
           m.address       AS "Address",
           m.port          AS "Port",
           m.generation    AS "Generation",
           m.siloname      AS "SiloName",
           m.hostname      AS "HostName",
           m.status        AS "Status",
           m.proxyport     AS "ProxyPort",
           m.suspecttimes  AS "SuspectTimes",
           m.starttime     AS "StartTime",
           m.iamalivetime  AS "IAmAliveTime",
           v.version       AS "Version"
      FROM orleansmembershipversiontable AS v
      LEFT JOIN orleansmembershiptable AS m
             ON m.deploymentid = v.deploymentid
     WHERE v.deploymentid = @DeploymentId;
$q$),

-- Wipes a whole cluster (used by tests/tools, not in normal operation).
('DeleteMembershipTableEntriesKey', $q$
    DELETE FROM orleansmembershiptable WHERE deploymentid = @DeploymentId;
    DELETE FROM orleansmembershipversiontable WHERE deploymentid = @DeploymentId;
$q$),

-- Gateways for clients: active silos that expose a gateway port (@Status = 3).
('GatewaysQueryKey', $q$
    SELECT address    AS "Address",
           proxyport  AS "ProxyPort",
           generation AS "Generation"
      FROM orleansmembershiptable
     WHERE deploymentid = @DeploymentId
       AND status = @Status
       AND proxyport > 0;
$q$),

-- Bulk clean-up of long-dead silos older than the cut-off @IAmAliveTime.
-- Mandatory key, but Orleans 10.4+ only uses it when the per-row
-- CleanupDefunctSiloEntryKey below is absent.
('CleanupDefunctSiloEntriesKey', $q$
    DELETE FROM orleansmembershiptable
     WHERE deploymentid = @DeploymentId
       AND status = 6
       AND iamalivetime < @IAmAliveTime
       AND starttime < @IAmAliveTime;
$q$),

-- Optional (Orleans 10.4+): Orleans reads all rows, picks Dead silos whose
-- start, heartbeat and suspicion times are all older than the cut-off, and
-- deletes each one only if the row still holds exactly the values it read.
-- Does not touch the table version.
('CleanupDefunctSiloEntryKey', $q$
    DELETE FROM orleansmembershiptable
     WHERE deploymentid = @DeploymentId
       AND address = @Address
       AND port = @Port
       AND generation = @Generation
       AND status = 6
       AND starttime = @StartTime
       AND iamalivetime = @IAmAliveTime
       AND COALESCE(suspecttimes, '') = COALESCE(@SuspectTimes, '');
$q$)
ON CONFLICT (querykey) DO UPDATE
    SET querytext = EXCLUDED.querytext
    WHERE orleansquery.querytext IS DISTINCT FROM EXCLUDED.querytext;
