-- bat_demo.sql: demo BAT definitions for bat-run(1), from the eRAD RIS
-- release notes (seeds/002): the configurable delay before forwarding a
-- signed report to BlueButtonPRO (Feature #34399), the lay letter sent
-- by mail when the patient has not opened the electronic one within N
-- days (Feature #3168), and a referrer fax that starts from the same
-- signed report. Load after bat_schema.sqlite.sql:
--
--	sqlite3 demo.sqlite < pipelines/sql/bat_schema.sqlite.sql
--	sqlite3 demo.sqlite < pipelines/sql/bat_demo.sql
--
-- The rules are for the demo database (SQLite behind tdsd). Only the
-- date arithmetic is SQLite's: on SQL Server write
--	DATEADD(minute, CAST(@delay_minutes AS int), @now)
-- where they say datetime(@now, '+' || @delay_minutes || ' minutes').
-- Every other rule is plain SQL that runs on both.

-- A few RIS-shaped tables the rules read and write. Made-up data only.
CREATE TABLE ris_setting (
	name NVARCHAR(100) NOT NULL PRIMARY KEY,
	value NVARCHAR(400)
);
CREATE TABLE ris_study (
	study_key BIGINT NOT NULL PRIMARY KEY,
	patient_key BIGINT NOT NULL,
	order_key BIGINT,
	status NVARCHAR(20) NOT NULL,		-- scheduled, completed, cancelled
	report_status NVARCHAR(20)		-- NULL, signed, retracted
);
CREATE TABLE ris_lay_letter (
	study_key BIGINT NOT NULL PRIMARY KEY,
	patient_key BIGINT NOT NULL,
	published_at DATETIME NOT NULL,
	opened_at DATETIME			-- NULL until the patient opens it
);
CREATE TABLE ris_outbound (
	id INTEGER PRIMARY KEY,
	study_key BIGINT NOT NULL,
	destination NVARCHAR(50) NOT NULL,
	queued_at DATETIME NOT NULL
);
CREATE TABLE ris_mail_queue (
	id INTEGER PRIMARY KEY,
	patient_key BIGINT NOT NULL,
	study_key BIGINT NOT NULL,
	document NVARCHAR(50) NOT NULL,
	queued_at DATETIME NOT NULL
);

INSERT INTO ris_setting (name, value) VALUES
	('bb_delay_minutes', '60'),
	('lay_letter_days', '7');

INSERT INTO ris_study (study_key, patient_key, order_key, status,
    report_status) VALUES
	(9001, 501, 7001, 'completed', 'signed'),
	(9002, 502, 7002, 'completed', 'signed'),
	(9003, 503, 7003, 'completed', NULL),
	(9004, 504, 7004, 'completed', 'signed');

INSERT INTO ris_lay_letter (study_key, patient_key, published_at,
    opened_at) VALUES
	(9001, 501, '2026-11-23 08:00:00', NULL),
	(9002, 502, '2026-11-23 08:00:00', NULL);

-- The queue: what starts workflows. A signed report, a published lay
-- letter; never a report deleted.
INSERT INTO bat_queue_subscription (queue_name, main_action, db_action,
    exclusion_flag) VALUES
	('BAT', 'ReportSigned', '<All>', 'N'),
	('BAT', 'ReportSigned', 'Delete', 'Y'),
	('BAT', 'LayLetterPublished', 'Insert', 'N');

INSERT INTO bat_collection (code, description, inclusion_rule, active)
VALUES
	('BB_DELAY', 'Forward a signed report to BlueButtonPRO after the delay in ris_setting bb_delay_minutes (Feature #34399). Owner: RIS service team.',
	 'SELECT CASE
    WHEN @main_action = ''ReportSigned'' AND EXISTS (
        SELECT 1 FROM ris_study s
        WHERE s.study_key = @study_key AND s.report_status = ''signed'')
    THEN 1
    ELSE -1
END', 'Y'),
	('LAY_LETTER_MAIL', 'Mail the lay letter when the patient has not opened the electronic one within ris_setting lay_letter_days days (Feature #3168). Owner: patient communications.',
	 'SELECT CASE WHEN @main_action = ''LayLetterPublished'' THEN 1
    ELSE -1 END', 'Y'),
	('REFERRER_FAX', 'Fax the signed report to the referrer at once. Owner: RIS service team.',
	 'SELECT CASE WHEN @main_action = ''ReportSigned'' THEN 10 ELSE -1 END',
	 'Y');

INSERT INTO bat_step (collection_code, step, description, active,
    parameter_rule, available_rule, pre_rule, action_sql, post_rule) VALUES
	('BB_DELAY', 1, 'Wait the configured delay, then queue the report for BlueButtonPRO unless it was retracted meanwhile.', 'Y',
	 'SELECT s.value AS delay_minutes FROM ris_setting s
WHERE s.name = ''bb_delay_minutes''',
	 'SELECT datetime(@now, ''+'' || @delay_minutes || '' minutes'')',
	 'SELECT CASE WHEN EXISTS (
    SELECT 1 FROM ris_study s
    WHERE s.study_key = @study_key AND s.report_status = ''signed''
    AND s.status <> ''cancelled'')
THEN 1 ELSE -1 END',
	 'INSERT INTO ris_outbound (study_key, destination, queued_at)
VALUES (@study_key, ''BlueButtonPRO'', @now)',
	 NULL),
	('LAY_LETTER_MAIL', 1, 'Wait lay_letter_days days; mail the letter unless it was opened or the exam cancelled.', 'Y',
	 'SELECT s.value AS wait_days FROM ris_setting s
WHERE s.name = ''lay_letter_days''',
	 'SELECT datetime(@now, ''+'' || @wait_days || '' days'')',
	 'SELECT CASE
    WHEN EXISTS (SELECT 1 FROM ris_lay_letter l
                 WHERE l.study_key = @study_key AND l.opened_at IS NOT NULL)
      OR EXISTS (SELECT 1 FROM ris_study s
                 WHERE s.study_key = @study_key AND s.status = ''cancelled'')
    THEN -1
    ELSE 1
END',
	 'INSERT INTO ris_mail_queue (patient_key, study_key, document,
    queued_at)
VALUES (@patient_key, @study_key, ''lay_letter'', @now)',
	 NULL),
	('REFERRER_FAX', 10, 'Queue the report for the referrer''s fax.', 'Y',
	 NULL, NULL, NULL,
	 'INSERT INTO ris_outbound (study_key, destination, queued_at)
VALUES (@study_key, ''referrer_fax'', @now)',
	 NULL);
