
CREATE TABLE agent_heartbeat (
    id integer NOT NULL,
    at bigint NOT NULL
);

CREATE TABLE alert_acks (
    id integer NOT NULL,
    alert_id character varying(400) NOT NULL,
    author character varying(200) NOT NULL,
    comment text NOT NULL,
    created_at bigint NOT NULL,
    applied_at bigint
);

CREATE SEQUENCE alert_acks_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE alert_acks_id_seq OWNED BY alert_acks.id;

CREATE TABLE alert_state (
    alert_id character varying(400) NOT NULL,
    data json NOT NULL,
    updated_at bigint NOT NULL,
    partition integer
);

CREATE TABLE annotations (
    id integer NOT NULL,
    incident bigint NOT NULL,
    field character varying(32) NOT NULL,
    text text NOT NULL,
    author character varying(200) NOT NULL,
    created_at bigint NOT NULL
);

CREATE SEQUENCE annotations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE annotations_id_seq OWNED BY annotations.id;

CREATE TABLE audit_log (
    id integer NOT NULL,
    at bigint NOT NULL,
    actor character varying(200) NOT NULL,
    role character varying(32) NOT NULL,
    action character varying(100) NOT NULL,
    target character varying(400) NOT NULL,
    detail json NOT NULL
);

CREATE SEQUENCE audit_log_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id;

CREATE TABLE check_rollups (
    "check" character varying(200) NOT NULL,
    hour bigint NOT NULL,
    service character varying(200) NOT NULL,
    ok bigint NOT NULL,
    degraded bigint NOT NULL,
    fail bigint NOT NULL,
    unknown bigint NOT NULL,
    latency_sum double precision NOT NULL,
    bucket_0 bigint NOT NULL,
    bucket_1 bigint NOT NULL,
    bucket_2 bigint NOT NULL,
    bucket_3 bigint NOT NULL,
    bucket_4 bigint NOT NULL,
    bucket_5 bigint NOT NULL,
    bucket_6 bigint NOT NULL,
    bucket_7 bigint NOT NULL,
    bucket_8 bigint NOT NULL
);

CREATE TABLE check_status (
    "check" character varying(200) NOT NULL,
    service character varying(200) NOT NULL,
    data json NOT NULL
);

CREATE TABLE clock_steps (
    id integer NOT NULL,
    at bigint NOT NULL,
    seconds double precision NOT NULL
);

CREATE SEQUENCE clock_steps_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE clock_steps_id_seq OWNED BY clock_steps.id;

CREATE TABLE cluster_nodes (
    node character varying(200) NOT NULL,
    started_at bigint NOT NULL,
    last_seen bigint NOT NULL,
    version character varying(40) NOT NULL
);

CREATE TABLE compaction_progress (
    name character varying(32) NOT NULL,
    hour bigint NOT NULL,
    service character varying(200) NOT NULL
);

CREATE TABLE dropped_results (
    "check" character varying(200) NOT NULL,
    location character varying(63) NOT NULL,
    start bigint NOT NULL,
    "end" bigint NOT NULL,
    service character varying(200) NOT NULL,
    count bigint NOT NULL
);

CREATE TABLE flapping_events (
    service character varying(200) NOT NULL,
    at bigint NOT NULL,
    flapping boolean NOT NULL,
    percent double precision NOT NULL
);

CREATE TABLE heartbeat_beats (
    "check" character varying(200) NOT NULL,
    last_at bigint NOT NULL
);

CREATE TABLE id_counters (
    name character varying(40) NOT NULL,
    next bigint NOT NULL
);

CREATE TABLE incidents (
    id bigint NOT NULL,
    service character varying(200) NOT NULL,
    tier character varying(64) NOT NULL,
    pcn boolean NOT NULL,
    started_at bigint NOT NULL,
    confirmed_at bigint NOT NULL,
    ended_at bigint,
    restore_seconds double precision,
    maintenance_seconds double precision NOT NULL,
    cause text NOT NULL,
    root_cause character varying(200),
    inhibited boolean NOT NULL,
    fragments json NOT NULL,
    locations json DEFAULT '[]'::json NOT NULL,
    retroactive boolean DEFAULT false NOT NULL
);

CREATE TABLE location_state (
    "check" character varying(200) NOT NULL,
    location character varying(63) NOT NULL,
    service character varying(200) NOT NULL,
    last_result_at bigint,
    data json NOT NULL
);

CREATE TABLE maintenance_windows (
    id integer NOT NULL,
    service character varying(200) NOT NULL,
    start bigint NOT NULL,
    "end" bigint NOT NULL,
    reason text NOT NULL,
    created_at bigint NOT NULL,
    author character varying(200) NOT NULL,
    cancelled_at bigint
);

CREATE SEQUENCE maintenance_windows_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE maintenance_windows_id_seq OWNED BY maintenance_windows.id;

CREATE TABLE outbox (
    id bigint NOT NULL,
    alert_id character varying(400) NOT NULL,
    status character varying(16) NOT NULL,
    receiver character varying(200) NOT NULL,
    payload json NOT NULL,
    created_at bigint NOT NULL,
    next_attempt_at bigint NOT NULL,
    attempts integer NOT NULL,
    state character varying(16) NOT NULL,
    last_error text NOT NULL,
    last_attempt_at bigint,
    delivered_at bigint,
    partition integer
);

CREATE SEQUENCE outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE outbox_id_seq OWNED BY outbox.id;

CREATE TABLE partition_commits (
    partition integer NOT NULL,
    epoch bigint NOT NULL,
    node character varying(200) NOT NULL,
    first_at bigint NOT NULL,
    last_at bigint NOT NULL,
    batches bigint NOT NULL
);

CREATE TABLE partition_leases (
    partition integer NOT NULL,
    holder character varying(200),
    epoch bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE TABLE pending_results (
    id bigint NOT NULL,
    partition integer NOT NULL,
    location character varying(63) NOT NULL,
    started_at bigint NOT NULL,
    payload json NOT NULL,
    received_at bigint NOT NULL
);

CREATE SEQUENCE pending_results_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE pending_results_id_seq OWNED BY pending_results.id;

CREATE TABLE probe_results (
    id bigint NOT NULL,
    "check" character varying(200) NOT NULL,
    service character varying(200) NOT NULL,
    started_at bigint NOT NULL,
    duration double precision NOT NULL,
    outcome character varying(16) NOT NULL,
    reason text NOT NULL,
    measurements json NOT NULL,
    in_maintenance boolean NOT NULL,
    location character varying(63) DEFAULT 'local'::character varying NOT NULL
);

CREATE SEQUENCE probe_results_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE probe_results_id_seq OWNED BY probe_results.id;

CREATE TABLE public_messages (
    id integer NOT NULL,
    incident bigint,
    service character varying(200),
    text text NOT NULL,
    author character varying(200) NOT NULL,
    written_at bigint NOT NULL
);

CREATE SEQUENCE public_messages_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public_messages_id_seq OWNED BY public_messages.id;

CREATE TABLE quarantine (
    id integer NOT NULL,
    at bigint NOT NULL,
    kind character varying(100) NOT NULL,
    record text NOT NULL,
    error text NOT NULL
);

CREATE SEQUENCE quarantine_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE quarantine_id_seq OWNED BY quarantine.id;

CREATE TABLE report_archive (
    id integer NOT NULL,
    kind character varying(20) NOT NULL,
    period character varying(20) NOT NULL,
    version integer NOT NULL,
    path text NOT NULL,
    sha256 character varying(64) NOT NULL,
    bytes bigint NOT NULL,
    made_at bigint NOT NULL,
    mailed_at bigint
);

CREATE SEQUENCE report_archive_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE report_archive_id_seq OWNED BY report_archive.id;

CREATE TABLE result_rollups (
    hour bigint NOT NULL,
    "check" character varying(200) NOT NULL,
    location character varying(63) NOT NULL,
    service character varying(200) NOT NULL,
    ok integer NOT NULL,
    degraded integer NOT NULL,
    fail integer NOT NULL,
    unknown integer NOT NULL,
    in_maintenance integer NOT NULL,
    duration_sum double precision NOT NULL,
    duration_min double precision NOT NULL,
    duration_max double precision NOT NULL,
    phases json NOT NULL
);

CREATE TABLE schema_version (
    version integer NOT NULL,
    description text NOT NULL,
    applied_at bigint NOT NULL
);

CREATE TABLE service_status (
    service character varying(200) NOT NULL,
    state character varying(16) NOT NULL,
    data json NOT NULL
);

CREATE TABLE transitions (
    service character varying(200) NOT NULL,
    at bigint NOT NULL,
    state character varying(16) NOT NULL
);

CREATE TABLE unknown_intervals (
    service character varying(200) NOT NULL,
    start bigint NOT NULL,
    "end" bigint NOT NULL
);

ALTER TABLE ONLY alert_acks ALTER COLUMN id SET DEFAULT nextval('alert_acks_id_seq'::regclass);

ALTER TABLE ONLY annotations ALTER COLUMN id SET DEFAULT nextval('annotations_id_seq'::regclass);

ALTER TABLE ONLY audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq'::regclass);

ALTER TABLE ONLY clock_steps ALTER COLUMN id SET DEFAULT nextval('clock_steps_id_seq'::regclass);

ALTER TABLE ONLY maintenance_windows ALTER COLUMN id SET DEFAULT nextval('maintenance_windows_id_seq'::regclass);

ALTER TABLE ONLY outbox ALTER COLUMN id SET DEFAULT nextval('outbox_id_seq'::regclass);

ALTER TABLE ONLY pending_results ALTER COLUMN id SET DEFAULT nextval('pending_results_id_seq'::regclass);

ALTER TABLE ONLY probe_results ALTER COLUMN id SET DEFAULT nextval('probe_results_id_seq'::regclass);

ALTER TABLE ONLY public_messages ALTER COLUMN id SET DEFAULT nextval('public_messages_id_seq'::regclass);

ALTER TABLE ONLY quarantine ALTER COLUMN id SET DEFAULT nextval('quarantine_id_seq'::regclass);

ALTER TABLE ONLY report_archive ALTER COLUMN id SET DEFAULT nextval('report_archive_id_seq'::regclass);

ALTER TABLE ONLY agent_heartbeat
    ADD CONSTRAINT agent_heartbeat_pkey PRIMARY KEY (id);

ALTER TABLE ONLY alert_acks
    ADD CONSTRAINT alert_acks_pkey PRIMARY KEY (id);

ALTER TABLE ONLY alert_state
    ADD CONSTRAINT alert_state_pkey PRIMARY KEY (alert_id);

ALTER TABLE ONLY annotations
    ADD CONSTRAINT annotations_pkey PRIMARY KEY (id);

ALTER TABLE ONLY audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);

ALTER TABLE ONLY check_status
    ADD CONSTRAINT check_status_pkey PRIMARY KEY ("check");

ALTER TABLE ONLY clock_steps
    ADD CONSTRAINT clock_steps_pkey PRIMARY KEY (id);

ALTER TABLE ONLY cluster_nodes
    ADD CONSTRAINT cluster_nodes_pkey PRIMARY KEY (node);

ALTER TABLE ONLY compaction_progress
    ADD CONSTRAINT compaction_progress_pkey PRIMARY KEY (name);

ALTER TABLE ONLY dropped_results
    ADD CONSTRAINT dropped_results_pkey PRIMARY KEY ("check", location, start, "end");

ALTER TABLE ONLY heartbeat_beats
    ADD CONSTRAINT heartbeat_beats_pkey PRIMARY KEY ("check");

ALTER TABLE ONLY id_counters
    ADD CONSTRAINT id_counters_pkey PRIMARY KEY (name);

ALTER TABLE ONLY incidents
    ADD CONSTRAINT incidents_pkey PRIMARY KEY (id);

ALTER TABLE ONLY location_state
    ADD CONSTRAINT location_state_pkey PRIMARY KEY ("check", location);

ALTER TABLE ONLY maintenance_windows
    ADD CONSTRAINT maintenance_windows_pkey PRIMARY KEY (id);

ALTER TABLE ONLY outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY partition_leases
    ADD CONSTRAINT partition_leases_pkey PRIMARY KEY (partition);

ALTER TABLE ONLY pending_results
    ADD CONSTRAINT pending_results_pkey PRIMARY KEY (id);

ALTER TABLE ONLY check_rollups
    ADD CONSTRAINT pk_check_rollups PRIMARY KEY ("check", hour);

ALTER TABLE ONLY flapping_events
    ADD CONSTRAINT pk_flapping_events PRIMARY KEY (service, at, flapping);

ALTER TABLE ONLY partition_commits
    ADD CONSTRAINT pk_partition_commits PRIMARY KEY (partition, epoch);

ALTER TABLE ONLY result_rollups
    ADD CONSTRAINT pk_result_rollups PRIMARY KEY (hour, "check", location);

ALTER TABLE ONLY transitions
    ADD CONSTRAINT pk_transitions PRIMARY KEY (service, at);

ALTER TABLE ONLY unknown_intervals
    ADD CONSTRAINT pk_unknown_intervals PRIMARY KEY (service, start, "end");

ALTER TABLE ONLY probe_results
    ADD CONSTRAINT probe_results_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public_messages
    ADD CONSTRAINT public_messages_pkey PRIMARY KEY (id);

ALTER TABLE ONLY quarantine
    ADD CONSTRAINT quarantine_pkey PRIMARY KEY (id);

ALTER TABLE ONLY report_archive
    ADD CONSTRAINT report_archive_pkey PRIMARY KEY (id);

ALTER TABLE ONLY schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (version);

ALTER TABLE ONLY service_status
    ADD CONSTRAINT service_status_pkey PRIMARY KEY (service);

ALTER TABLE ONLY probe_results
    ADD CONSTRAINT uq_probe_results_check_location_started UNIQUE ("check", location, started_at);

ALTER TABLE ONLY report_archive
    ADD CONSTRAINT uq_report_archive_version UNIQUE (kind, period, version);

CREATE INDEX ix_alert_acks_alert ON alert_acks USING btree (alert_id);

CREATE INDEX ix_annotations_incident ON annotations USING btree (incident, id);

CREATE INDEX ix_audit_log_at ON audit_log USING btree (at);

CREATE INDEX ix_check_rollups_hour ON check_rollups USING btree (hour);

CREATE INDEX ix_check_rollups_service_hour ON check_rollups USING btree (service, hour);

CREATE INDEX ix_clock_steps_at ON clock_steps USING btree (at);

CREATE INDEX ix_incidents_ended ON incidents USING btree (ended_at);

CREATE INDEX ix_incidents_service_started ON incidents USING btree (service, started_at);

CREATE INDEX ix_maintenance_windows_service_start ON maintenance_windows USING btree (service, start);

CREATE INDEX ix_outbox_alert ON outbox USING btree (alert_id, id);

CREATE INDEX ix_outbox_created ON outbox USING btree (created_at);

CREATE INDEX ix_outbox_receiver_alert ON outbox USING btree (receiver, alert_id, id);

CREATE INDEX ix_outbox_state_next ON outbox USING btree (state, next_attempt_at);

CREATE INDEX ix_pending_results_partition ON pending_results USING btree (partition, started_at);

CREATE INDEX ix_probe_results_service_started ON probe_results USING btree (service, started_at);

CREATE INDEX ix_probe_results_started ON probe_results USING btree (started_at);

CREATE INDEX ix_public_messages_incident ON public_messages USING btree (incident, id);

CREATE INDEX ix_public_messages_service ON public_messages USING btree (service, id);

ALTER TABLE ONLY annotations
    ADD CONSTRAINT annotations_incident_fkey FOREIGN KEY (incident) REFERENCES incidents(id);

ALTER TABLE ONLY public_messages
    ADD CONSTRAINT public_messages_incident_fkey FOREIGN KEY (incident) REFERENCES incidents(id);

