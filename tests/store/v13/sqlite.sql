CREATE TABLE schema_version (
	version INTEGER NOT NULL, 
	description TEXT NOT NULL, 
	applied_at BIGINT NOT NULL, 
	PRIMARY KEY (version)
);
CREATE TABLE probe_results (
	id INTEGER NOT NULL, 
	"check" VARCHAR(200) NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	started_at BIGINT NOT NULL, 
	duration FLOAT NOT NULL, 
	outcome VARCHAR(16) NOT NULL, 
	reason TEXT NOT NULL, 
	measurements JSON NOT NULL, 
	in_maintenance BOOLEAN NOT NULL, 
	location VARCHAR(63) DEFAULT 'local' NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_probe_results_check_location_started UNIQUE ("check", location, started_at)
);
CREATE INDEX ix_probe_results_service_started ON probe_results (service, started_at);
CREATE INDEX ix_probe_results_started ON probe_results (started_at);
CREATE TABLE check_rollups (
	"check" VARCHAR(200) NOT NULL, 
	hour BIGINT NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	ok BIGINT NOT NULL, 
	degraded BIGINT NOT NULL, 
	"fail" BIGINT NOT NULL, 
	unknown BIGINT NOT NULL, 
	latency_sum FLOAT NOT NULL, 
	bucket_0 BIGINT NOT NULL, 
	bucket_1 BIGINT NOT NULL, 
	bucket_2 BIGINT NOT NULL, 
	bucket_3 BIGINT NOT NULL, 
	bucket_4 BIGINT NOT NULL, 
	bucket_5 BIGINT NOT NULL, 
	bucket_6 BIGINT NOT NULL, 
	bucket_7 BIGINT NOT NULL, 
	bucket_8 BIGINT NOT NULL, 
	CONSTRAINT pk_check_rollups PRIMARY KEY ("check", hour)
);
CREATE INDEX ix_check_rollups_service_hour ON check_rollups (service, hour);
CREATE INDEX ix_check_rollups_hour ON check_rollups (hour);
CREATE TABLE result_rollups (
	hour BIGINT NOT NULL, 
	"check" VARCHAR(200) NOT NULL, 
	location VARCHAR(63) NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	ok INTEGER NOT NULL, 
	degraded INTEGER NOT NULL, 
	"fail" INTEGER NOT NULL, 
	unknown INTEGER NOT NULL, 
	in_maintenance INTEGER NOT NULL, 
	duration_sum FLOAT NOT NULL, 
	duration_min FLOAT NOT NULL, 
	duration_max FLOAT NOT NULL, 
	phases JSON NOT NULL, 
	CONSTRAINT pk_result_rollups PRIMARY KEY (hour, "check", location)
)
 WITHOUT ROWID

;
CREATE TABLE compaction_progress (
	name VARCHAR(32) NOT NULL, 
	hour BIGINT NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE transitions (
	service VARCHAR(200) NOT NULL, 
	at BIGINT NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	CONSTRAINT pk_transitions PRIMARY KEY (service, at)
);
CREATE TABLE unknown_intervals (
	service VARCHAR(200) NOT NULL, 
	start BIGINT NOT NULL, 
	"end" BIGINT NOT NULL, 
	CONSTRAINT pk_unknown_intervals PRIMARY KEY (service, start, "end")
);
CREATE TABLE incidents (
	id BIGINT NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	tier VARCHAR(64) NOT NULL, 
	pcn BOOLEAN NOT NULL, 
	started_at BIGINT NOT NULL, 
	confirmed_at BIGINT NOT NULL, 
	ended_at BIGINT, 
	restore_seconds FLOAT, 
	maintenance_seconds FLOAT NOT NULL, 
	cause TEXT NOT NULL, 
	root_cause VARCHAR(200), 
	inhibited BOOLEAN NOT NULL, 
	fragments JSON NOT NULL, 
	locations JSON DEFAULT '[]' NOT NULL, 
	retroactive BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_incidents_service_started ON incidents (service, started_at);
CREATE INDEX ix_incidents_ended ON incidents (ended_at);
CREATE TABLE check_status (
	"check" VARCHAR(200) NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	data JSON NOT NULL, 
	PRIMARY KEY ("check")
);
CREATE TABLE location_state (
	"check" VARCHAR(200) NOT NULL, 
	location VARCHAR(63) NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	last_result_at BIGINT, 
	data JSON NOT NULL, 
	PRIMARY KEY ("check", location)
);
CREATE TABLE dropped_results (
	"check" VARCHAR(200) NOT NULL, 
	location VARCHAR(63) NOT NULL, 
	start BIGINT NOT NULL, 
	"end" BIGINT NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	count BIGINT NOT NULL, 
	PRIMARY KEY ("check", location, start, "end")
);
CREATE TABLE service_status (
	service VARCHAR(200) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	data JSON NOT NULL, 
	PRIMARY KEY (service)
);
CREATE TABLE flapping_events (
	service VARCHAR(200) NOT NULL, 
	at BIGINT NOT NULL, 
	flapping BOOLEAN NOT NULL, 
	percent FLOAT NOT NULL, 
	CONSTRAINT pk_flapping_events PRIMARY KEY (service, at, flapping)
);
CREATE TABLE maintenance_windows (
	id INTEGER NOT NULL, 
	service VARCHAR(200) NOT NULL, 
	start BIGINT NOT NULL, 
	"end" BIGINT NOT NULL, 
	reason TEXT NOT NULL, 
	created_at BIGINT NOT NULL, 
	author VARCHAR(200) NOT NULL, 
	cancelled_at BIGINT, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_maintenance_windows_service_start ON maintenance_windows (service, start);
CREATE TABLE agent_heartbeat (
	id INTEGER NOT NULL, 
	at BIGINT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE heartbeat_beats (
	"check" VARCHAR(200) NOT NULL, 
	last_at BIGINT NOT NULL, 
	PRIMARY KEY ("check")
);
CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	alert_id VARCHAR(400) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	receiver VARCHAR(200) NOT NULL, 
	payload JSON NOT NULL, 
	created_at BIGINT NOT NULL, 
	next_attempt_at BIGINT NOT NULL, 
	attempts INTEGER NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	last_error TEXT NOT NULL, 
	last_attempt_at BIGINT, 
	delivered_at BIGINT, 
	partition INTEGER, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_outbox_alert ON outbox (alert_id, id);
CREATE INDEX ix_outbox_receiver_alert ON outbox (receiver, alert_id, id);
CREATE INDEX ix_outbox_created ON outbox (created_at);
CREATE INDEX ix_outbox_state_next ON outbox (state, next_attempt_at);
CREATE TABLE alert_state (
	alert_id VARCHAR(400) NOT NULL, 
	data JSON NOT NULL, 
	updated_at BIGINT NOT NULL, 
	partition INTEGER, 
	PRIMARY KEY (alert_id)
);
CREATE TABLE alert_acks (
	id INTEGER NOT NULL, 
	alert_id VARCHAR(400) NOT NULL, 
	author VARCHAR(200) NOT NULL, 
	comment TEXT NOT NULL, 
	created_at BIGINT NOT NULL, 
	applied_at BIGINT, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_alert_acks_alert ON alert_acks (alert_id);
CREATE TABLE quarantine (
	id INTEGER NOT NULL, 
	at BIGINT NOT NULL, 
	kind VARCHAR(100) NOT NULL, 
	record TEXT NOT NULL, 
	error TEXT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE clock_steps (
	id INTEGER NOT NULL, 
	at BIGINT NOT NULL, 
	seconds FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_clock_steps_at ON clock_steps (at);
CREATE TABLE audit_log (
	id INTEGER NOT NULL, 
	at BIGINT NOT NULL, 
	actor VARCHAR(200) NOT NULL, 
	role VARCHAR(32) NOT NULL, 
	action VARCHAR(100) NOT NULL, 
	target VARCHAR(400) NOT NULL, 
	detail JSON NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_audit_log_at ON audit_log (at);
CREATE TABLE report_archive (
	id INTEGER NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	period VARCHAR(20) NOT NULL, 
	version INTEGER NOT NULL, 
	path TEXT NOT NULL, 
	sha256 VARCHAR(64) NOT NULL, 
	bytes BIGINT NOT NULL, 
	made_at BIGINT NOT NULL, 
	mailed_at BIGINT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_report_archive_version UNIQUE (kind, period, version)
);
CREATE TABLE cluster_nodes (
	node VARCHAR(200) NOT NULL, 
	started_at BIGINT NOT NULL, 
	last_seen BIGINT NOT NULL, 
	version VARCHAR(40) NOT NULL, 
	PRIMARY KEY (node)
);
CREATE TABLE partition_leases (
	partition INTEGER NOT NULL, 
	holder VARCHAR(200), 
	epoch BIGINT NOT NULL, 
	expires_at BIGINT NOT NULL, 
	PRIMARY KEY (partition)
);
CREATE TABLE id_counters (
	name VARCHAR(40) NOT NULL, 
	next BIGINT NOT NULL, 
	PRIMARY KEY (name)
);
CREATE TABLE pending_results (
	id INTEGER NOT NULL, 
	partition INTEGER NOT NULL, 
	location VARCHAR(63) NOT NULL, 
	started_at BIGINT NOT NULL, 
	payload JSON NOT NULL, 
	received_at BIGINT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_pending_results_partition ON pending_results (partition, started_at);
CREATE TABLE partition_commits (
	partition INTEGER NOT NULL, 
	epoch BIGINT NOT NULL, 
	node VARCHAR(200) NOT NULL, 
	first_at BIGINT NOT NULL, 
	last_at BIGINT NOT NULL, 
	batches BIGINT NOT NULL, 
	CONSTRAINT pk_partition_commits PRIMARY KEY (partition, epoch)
);
CREATE TABLE annotations (
	id INTEGER NOT NULL, 
	incident BIGINT NOT NULL, 
	field VARCHAR(32) NOT NULL, 
	text TEXT NOT NULL, 
	author VARCHAR(200) NOT NULL, 
	created_at BIGINT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(incident) REFERENCES incidents (id)
);
CREATE INDEX ix_annotations_incident ON annotations (incident, id);
CREATE TABLE public_messages (
	id INTEGER NOT NULL, 
	incident BIGINT, 
	service VARCHAR(200), 
	text TEXT NOT NULL, 
	author VARCHAR(200) NOT NULL, 
	written_at BIGINT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(incident) REFERENCES incidents (id)
);
CREATE INDEX ix_public_messages_incident ON public_messages (incident, id);
CREATE INDEX ix_public_messages_service ON public_messages (service, id);
