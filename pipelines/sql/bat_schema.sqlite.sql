-- bat_schema.sqlite.sql: the tables of bat-run(1) for SQLite, the demo
-- database behind tdsd. The same tables as bat_schema.sql (SQL Server,
-- where the columns are described); keep the two in step. The declared
-- types are SQL Server's names, which tdsd maps to TDS types; times are
-- TEXT 'YYYY-MM-DD HH:MM:SS'.

CREATE TABLE bat_queue_subscription (
	id INTEGER PRIMARY KEY,
	queue_name NVARCHAR(50) NOT NULL DEFAULT 'BAT',
	main_action NVARCHAR(100) NOT NULL,
	db_action NVARCHAR(100) NOT NULL DEFAULT '<All>',
	exclusion_flag CHAR(1) NOT NULL DEFAULT 'N'
	    CHECK (exclusion_flag IN ('Y', 'N'))
);

CREATE TABLE bat_collection (
	code NVARCHAR(50) NOT NULL PRIMARY KEY,
	description NVARCHAR(1000),
	inclusion_rule NTEXT NOT NULL,
	active CHAR(1) NOT NULL DEFAULT 'Y' CHECK (active IN ('Y', 'N'))
);

CREATE TABLE bat_step (
	collection_code NVARCHAR(50) NOT NULL
	    REFERENCES bat_collection (code),
	step INT NOT NULL,
	description NVARCHAR(1000),
	active CHAR(1) NOT NULL DEFAULT 'Y' CHECK (active IN ('Y', 'N')),
	parameter_rule NTEXT,
	available_rule NTEXT,
	pre_rule NTEXT,
	action_sql NTEXT NOT NULL,
	post_rule NTEXT,
	PRIMARY KEY (collection_code, step)
);

CREATE TABLE bat_event (
	id INTEGER PRIMARY KEY,
	queue_name NVARCHAR(50) NOT NULL DEFAULT 'BAT',
	main_action NVARCHAR(100) NOT NULL,
	db_action NVARCHAR(100) NOT NULL,
	patient_key BIGINT,
	order_key BIGINT,
	study_key BIGINT,
	report_key BIGINT,
	action_id BIGINT,
	created_at DATETIME NOT NULL DEFAULT (datetime('now', 'localtime')),
	claimed_by NVARCHAR(100),
	claimed_at DATETIME,
	done_at DATETIME
);
CREATE INDEX bat_event_pending ON bat_event (done_at, id);

CREATE TABLE bat_instance (
	id INTEGER PRIMARY KEY,
	event_id BIGINT NOT NULL REFERENCES bat_event (id),
	collection_code NVARCHAR(50) NOT NULL,
	step INT,
	status VARCHAR(10) NOT NULL CHECK (status IN ('init', 'waiting',
	    'running', 'done', 'aborted', 'failed', 'disabled')),
	due_at DATETIME,
	owner NVARCHAR(100),
	lease_until DATETIME,
	attempts INT NOT NULL DEFAULT 0,
	steps_run INT NOT NULL DEFAULT 0,
	last_error NVARCHAR(2000),
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	CONSTRAINT bat_instance_once UNIQUE (event_id, collection_code)
);
CREATE INDEX bat_instance_due ON bat_instance (status, due_at);

CREATE TABLE bat_instance_param (
	instance_id BIGINT NOT NULL REFERENCES bat_instance (id),
	name NVARCHAR(128) NOT NULL,
	value NTEXT,
	type VARCHAR(10),
	PRIMARY KEY (instance_id, name)
);

CREATE TABLE bat_log (
	id INTEGER PRIMARY KEY,
	logged_at DATETIME NOT NULL,
	engine NVARCHAR(100) NOT NULL,
	event_id BIGINT,
	instance_id BIGINT,
	collection_code NVARCHAR(50),
	step INT,
	rule_kind VARCHAR(10) NOT NULL,
	outcome VARCHAR(12) NOT NULL,
	result NVARCHAR(400),
	error_number INT,
	message NVARCHAR(2000),
	duration_ms INT
);
CREATE INDEX bat_log_instance ON bat_log (instance_id, id);
