/*
 * template.c: bat-run --template prints a starting rule of each kind,
 * as the seed's rule editor offers templates, with the parameters the
 * rule can use. The text is T-SQL that also runs on tdsd's SQLite
 * where it can; date arithmetic differs and both forms are shown.
 */
#include <stdio.h>
#include <string.h>

#include "bat.h"

static const char params_text[] =
    "-- Parameters, bound through sp_executesql (never spliced):\n"
    "--   @event_id bigint, @main_action nvarchar, @db_action nvarchar,\n"
    "--   @patient_key bigint, @order_key bigint, @study_key bigint,\n"
    "--   @now datetime (the engine's clock), @instance_id bigint,\n"
    "--   @step int (the step being run),\n"
    "--   and each parameter calculated so far, as nvarchar.\n";

static const char *const templates[RULE_KINDS] = {
	[RULE_INCLUSION] =
	    "-- Inclusion rule: one row, one integer: the step to start at,\n"
	    "-- or a negative number for \"not this workflow\".\n"
	    "-- Check the action that fired: several may reach this rule.\n"
	    "SELECT CASE\n"
	    "    WHEN @main_action = 'ReportSigned' AND @db_action = 'Insert'\n"
	    "    THEN 1\n"
	    "    ELSE -1\n"
	    "END\n",
	[RULE_PARAMETER] =
	    "-- Parameter calculation rule: one row; each named column becomes\n"
	    "-- a read-only @parameter for the rest of the instance. It runs\n"
	    "-- when the step is initialised, not when its action runs.\n"
	    "SELECT s.value AS delay_minutes\n"
	    "FROM ris_setting s\n"
	    "WHERE s.name = 'bb_delay_minutes'\n",
	[RULE_AVAILABLE] =
	    "-- Available datetime rule: one row, one datetime: when the\n"
	    "-- action may run. NULL (or no rule) means now.\n"
	    "-- SQL Server: SELECT DATEADD(minute, CAST(@delay_minutes AS int), @now)\n"
	    "SELECT datetime(@now, '+' || @delay_minutes || ' minutes')\n",
	[RULE_PRE] =
	    "-- Pre workflow rule: one row, one integer: positive to run the\n"
	    "-- action, negative to abort the instance (no action, no post\n"
	    "-- rule, no later steps), e.g. when the exam was cancelled.\n"
	    "SELECT CASE\n"
	    "    WHEN EXISTS (SELECT 1 FROM ris_study st\n"
	    "                 WHERE st.study_key = @study_key\n"
	    "                 AND st.status = 'cancelled')\n"
	    "    THEN -1\n"
	    "    ELSE 1\n"
	    "END\n",
	[RULE_ACTION] =
	    "-- Action: the SQL to execute. It commits together with the\n"
	    "-- instance's move to its next step: never BEGIN or COMMIT here.\n"
	    "INSERT INTO ris_outbound (study_key, destination, queued_at)\n"
	    "VALUES (@study_key, 'BlueButtonPRO', @now)\n",
	[RULE_POST] =
	    "-- Post workflow rule: one row, one integer: the next step, or a\n"
	    "-- negative number to finish. No rule: the next higher step.\n"
	    "-- A step may loop back to an earlier one.\n"
	    "SELECT CASE\n"
	    "    WHEN EXISTS (SELECT 1 FROM ris_lay_letter l\n"
	    "                 WHERE l.study_key = @study_key\n"
	    "                 AND l.opened_at IS NULL)\n"
	    "    THEN 2\n"
	    "    ELSE -1\n"
	    "END\n",
};

/* The template's own comment lines, the parameters, then its SQL. */
void
template_print(enum rule_kind kind)
{
	const char *t = templates[kind], *sql = t;

	while (strncmp(sql, "--", 2) == 0)
		sql = strchr(sql, '\n') + 1;
	fwrite(t, 1, (size_t)(sql - t), stdout);
	fputs(params_text, stdout);
	fputs(sql, stdout);
}
