-- bat_events_trigger.sql: feeds bat_event, the queue of bat-run(1), from
-- the RIS's own action table, for SQL Server (T-SQL). A template: the
-- table and column names below are the RIS's c_action as the seed names
-- it; edit them (and the trigger's name) to the site's action table,
-- then create the trigger once, after bat_schema.sql:
--
--	sqlcmd -d RIS -i pipelines/sql/bat_events_trigger.sql
--
-- AFTER INSERT: each row a RIS action adds (one per statement or many)
-- becomes one event when a subscription of the BAT queue takes it: a
-- row of bat_queue_subscription with exclusion_flag N matches its
-- main_action and db_action (<All> matches any) and none with flag Y
-- does. Other actions, however often they fire (UI_StudyUpdated), never
-- reach the queue. The event keeps the action's own id and its patient,
-- order, study and report keys; bat-run's next pass starts the
-- workflows whose inclusion rules take it.
--
-- The INSERT runs in the RIS's own transaction: the action and its
-- event commit together or not at all, and an event is never queued for
-- an action that was rolled back.
CREATE TRIGGER bat_events_from_c_action ON c_action
AFTER INSERT
AS
BEGIN
	-- the RIS's own row counts stay as they were
	SET NOCOUNT ON;
	INSERT INTO bat_event (queue_name, main_action, db_action, action_id,
	    patient_key, order_key, study_key, report_key, created_at)
	SELECT N'BAT', i.main_action, i.db_action, i.action_id,
	    i.patient_key, i.order_key, i.study_key, i.report_key, GETDATE()
	FROM inserted i
	WHERE EXISTS (SELECT 1 FROM bat_queue_subscription s
	        WHERE s.queue_name = N'BAT' AND s.exclusion_flag = 'N'
	        AND (s.main_action = i.main_action OR s.main_action = N'<All>')
	        AND (s.db_action = i.db_action OR s.db_action = N'<All>'))
	    AND NOT EXISTS (SELECT 1 FROM bat_queue_subscription s
	        WHERE s.queue_name = N'BAT' AND s.exclusion_flag = 'Y'
	        AND (s.main_action = i.main_action OR s.main_action = N'<All>')
	        AND (s.db_action = i.db_action OR s.db_action = N'<All>'))
	ORDER BY i.action_id;
END
