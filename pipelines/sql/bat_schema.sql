-- bat_schema.sql: the tables of bat-run(1), the BAT rule workflow engine,
-- for SQL Server. The same tables for SQLite (tdsd, the demo database)
-- are in bat_schema.sqlite.sql; keep the two in step.
--
-- Definitions (written by people, through review):
--   bat_queue_subscription  which events start workflows
--   bat_collection          one workflow: its inclusion rule
--   bat_step                its steps: five rules each
-- Run time (written by the source system and by bat-run):
--   bat_event               the event queue
--   bat_instance            one workflow started by one event
--   bat_instance_param      the parameters an instance calculated
--   bat_log                 every rule run and every transition
--
-- Times are local wall-clock datetimes; bat-run passes its clock as @now.

CREATE TABLE bat_queue_subscription (
	id int IDENTITY(1,1) NOT NULL PRIMARY KEY,
	queue_name nvarchar(50) NOT NULL DEFAULT 'BAT',
	main_action nvarchar(100) NOT NULL,	-- or <All>
	db_action nvarchar(100) NOT NULL DEFAULT '<All>',	-- or <All>
	exclusion_flag char(1) NOT NULL DEFAULT 'N'
	    CHECK (exclusion_flag IN ('Y', 'N'))
);

CREATE TABLE bat_collection (
	code nvarchar(50) NOT NULL PRIMARY KEY,
	description nvarchar(1000) NULL,	-- purpose, owner, documents
	inclusion_rule nvarchar(max) NOT NULL,
	active char(1) NOT NULL DEFAULT 'Y' CHECK (active IN ('Y', 'N'))
);

CREATE TABLE bat_step (
	collection_code nvarchar(50) NOT NULL
	    REFERENCES bat_collection (code),
	step int NOT NULL,
	description nvarchar(1000) NULL,
	active char(1) NOT NULL DEFAULT 'Y' CHECK (active IN ('Y', 'N')),
	parameter_rule nvarchar(max) NULL,
	available_rule nvarchar(max) NULL,
	pre_rule nvarchar(max) NULL,
	action_sql nvarchar(max) NOT NULL,
	post_rule nvarchar(max) NULL,
	PRIMARY KEY (collection_code, step)
);

CREATE TABLE bat_event (
	id bigint IDENTITY(1,1) NOT NULL PRIMARY KEY,
	queue_name nvarchar(50) NOT NULL DEFAULT 'BAT',
	main_action nvarchar(100) NOT NULL,
	db_action nvarchar(100) NOT NULL,
	patient_key bigint NULL,
	order_key bigint NULL,
	study_key bigint NULL,
	report_key bigint NULL,
	action_id bigint NULL,		-- the RIS action row that raised it
	created_at datetime NOT NULL DEFAULT GETDATE(),
	claimed_by nvarchar(100) NULL,	-- host:pid of the engine
	claimed_at datetime NULL,
	done_at datetime NULL		-- its instances are created
);
CREATE INDEX bat_event_pending ON bat_event (done_at, id);

CREATE TABLE bat_instance (
	id bigint IDENTITY(1,1) NOT NULL PRIMARY KEY,
	event_id bigint NOT NULL REFERENCES bat_event (id),
	collection_code nvarchar(50) NOT NULL,
	step int NULL,			-- the current (or last) step
	status varchar(10) NOT NULL CHECK (status IN ('init', 'waiting',
	    'running', 'done', 'aborted', 'failed', 'disabled')),
	due_at datetime NULL,		-- waiting: when the step may run
	owner nvarchar(100) NULL,	-- running: the engine's host:pid
	lease_until datetime NULL,	-- running: the claim holds until
	attempts int NOT NULL DEFAULT 0,	-- claims of the current step
	steps_run int NOT NULL DEFAULT 0,	-- against --max-steps
	last_error nvarchar(2000) NULL,
	created_at datetime NOT NULL,
	updated_at datetime NOT NULL,
	CONSTRAINT bat_instance_once UNIQUE (event_id, collection_code)
);
CREATE INDEX bat_instance_due ON bat_instance (status, due_at);

CREATE TABLE bat_instance_param (
	instance_id bigint NOT NULL REFERENCES bat_instance (id),
	name nvarchar(128) NOT NULL,
	value nvarchar(max) NULL,
	type varchar(10) NULL,		-- int, bigint, decimal, date,
					-- datetime, nvarchar: as it binds
	PRIMARY KEY (instance_id, name)
);

CREATE TABLE bat_log (
	id bigint IDENTITY(1,1) NOT NULL PRIMARY KEY,
	logged_at datetime NOT NULL,
	engine nvarchar(100) NOT NULL,
	event_id bigint NULL,
	instance_id bigint NULL,
	collection_code nvarchar(50) NULL,
	step int NULL,
	rule_kind varchar(10) NOT NULL,	-- inclusion ... post, or engine
	outcome varchar(12) NOT NULL,	-- ok, error, or a transition
	result nvarchar(400) NULL,	-- a step, a datetime, names, rows
	error_number int NULL,
	message nvarchar(2000) NULL,
	duration_ms int NULL
);
CREATE INDEX bat_log_instance ON bat_log (instance_id, id);
