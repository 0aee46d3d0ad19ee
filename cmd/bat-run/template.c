/*
 * template.c: bat-run --template prints a starting rule of each kind,
 * as the seed's rule editor offers templates, with the parameters the
 * rule can use. One dialect per engine: T-SQL for SQL Server (DATEADD,
 * ISNULL, N'...'), and with --dialect sqlite the forms tdsd's SQLite
 * runs (datetime(), COALESCE, '...').
 */
#include <stdio.h>
#include <string.h>

#include "bat.h"

static const char params_text[] =
    "-- Parameters, bound through sp_executesql (never spliced):\n"
    "--   @event_id bigint, @main_action nvarchar, @db_action nvarchar,\n"
    "--   @patient_key bigint, @order_key bigint, @study_key bigint,\n"
    "--   @report_key bigint, @action_id bigint (the RIS action's row),\n"
    "--   @now datetime (the engine's clock), @instance_id bigint,\n"
    "--   @step int (the step being run),\n"
    "--   and each parameter calculated so far, typed as its column.\n";

/* What each kind returns, the same in both dialects. */
static const char *const heads[RULE_KINDS] = {
	[RULE_INCLUSION] =
	    "-- Inclusion rule: one integer, the step to start at; no row,\n"
	    "-- NULL, 0 or a negative number: not this workflow.\n"
	    "-- Check the action that fired: several may reach this rule.\n",
	[RULE_PARAMETER] =
	    "-- Parameter calculation rule: one row; each named column becomes\n"
	    "-- a read-only @parameter of its type for the rest of the\n"
	    "-- instance (name every column with AS). It runs when the step\n"
	    "-- is initialised, not when its action runs; a name calculated\n"
	    "-- before keeps its first value.\n",
	[RULE_AVAILABLE] =
	    "-- Available datetime rule: one datetime, when the action may\n"
	    "-- run. No row or NULL (or no rule) means now.\n",
	[RULE_PRE] =
	    "-- Pre workflow rule: a positive integer runs the action; no row,\n"
	    "-- NULL, 0 or a negative number aborts the instance (no action,\n"
	    "-- no post rule, no later steps), e.g. when the exam was\n"
	    "-- cancelled.\n",
	[RULE_ACTION] =
	    "-- Action: the SQL to execute. It commits together with the\n"
	    "-- instance's move to its next step: never BEGIN or COMMIT here.\n",
	[RULE_POST] =
	    "-- Post workflow rule: one integer, the next step; no row, NULL,\n"
	    "-- 0 or a negative number finishes. No rule: the next higher\n"
	    "-- step. A step may loop back to an earlier one.\n",
};

static const char *const tsql[RULE_KINDS] = {
	[RULE_INCLUSION] =
	    "SELECT 1\n"
	    "WHERE @main_action = N'ReportSigned' AND @db_action = N'Insert'\n",
	[RULE_PARAMETER] =
	    "SELECT CAST(s.value AS int) AS delay_minutes\n"
	    "FROM ris_setting s\n"
	    "WHERE s.name = N'bb_delay_minutes'\n",
	[RULE_AVAILABLE] =
	    "SELECT DATEADD(minute, @delay_minutes, @now)\n",
	[RULE_PRE] =
	    "SELECT CASE\n"
	    "    WHEN EXISTS (SELECT 1 FROM ris_study st\n"
	    "                 WHERE st.study_key = @study_key\n"
	    "                 AND ISNULL(st.status, N'') = N'cancelled')\n"
	    "    THEN -1\n"
	    "    ELSE 1\n"
	    "END\n",
	[RULE_ACTION] =
	    "INSERT INTO ris_outbound (study_key, destination, queued_at)\n"
	    "VALUES (@study_key, N'BlueButtonPRO', @now)\n",
	[RULE_POST] =
	    "SELECT 2\n"
	    "WHERE EXISTS (SELECT 1 FROM ris_lay_letter l\n"
	    "              WHERE l.study_key = @study_key\n"
	    "              AND l.opened_at IS NULL\n"
	    "              AND l.published_at < DATEADD(day, -7, @now))\n",
};

static const char *const sqlite[RULE_KINDS] = {
	[RULE_INCLUSION] =
	    "SELECT 1\n"
	    "WHERE @main_action = 'ReportSigned' AND @db_action = 'Insert'\n",
	[RULE_PARAMETER] =
	    "SELECT CAST(s.value AS INT) AS delay_minutes\n"
	    "FROM ris_setting s\n"
	    "WHERE s.name = 'bb_delay_minutes'\n",
	[RULE_AVAILABLE] =
	    "SELECT datetime(@now, '+' || @delay_minutes || ' minutes')\n",
	[RULE_PRE] =
	    "SELECT CASE\n"
	    "    WHEN EXISTS (SELECT 1 FROM ris_study st\n"
	    "                 WHERE st.study_key = @study_key\n"
	    "                 AND COALESCE(st.status, '') = 'cancelled')\n"
	    "    THEN -1\n"
	    "    ELSE 1\n"
	    "END\n",
	[RULE_ACTION] =
	    "INSERT INTO ris_outbound (study_key, destination, queued_at)\n"
	    "VALUES (@study_key, 'BlueButtonPRO', @now)\n",
	[RULE_POST] =
	    "SELECT 2\n"
	    "WHERE EXISTS (SELECT 1 FROM ris_lay_letter l\n"
	    "              WHERE l.study_key = @study_key\n"
	    "              AND l.opened_at IS NULL\n"
	    "              AND l.published_at < datetime(@now, '-7 days'))\n",
};

/* What the rule returns, the parameters, then its SQL. */
void
template_print(enum rule_kind kind, int sqlite_dialect)
{
	fputs(heads[kind], stdout);
	fputs(sqlite_dialect ? "-- SQLite, for tdsd.\n" :
	    "-- T-SQL, for SQL Server.\n", stdout);
	fputs(params_text, stdout);
	fputs(sqlite_dialect ? sqlite[kind] : tsql[kind], stdout);
}
