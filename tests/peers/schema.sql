-- The peers' database: a column of every type tdsd sends, as a SQL
-- Server table would declare it; dates are TEXT in the forms tdsd reads.
CREATE TABLE kinds (
	id INT PRIMARY KEY,
	i INT, big BIGINT, small SMALLINT, tiny TINYINT, flag BIT,
	dec DECIMAL(10,2), cash MONEY, smallcash SMALLMONEY,
	f FLOAT, r REAL,
	d DATE, dt DATETIME, sdt SMALLDATETIME, dt2 DATETIME2(3),
	dto DATETIMEOFFSET, t TIME(0),
	nv NVARCHAR(20), v VARCHAR(10), c CHAR(3), nc NCHAR(3),
	nmax "NVARCHAR(MAX)", vmax "VARCHAR(MAX)",
	vb VARBINARY(8), b BINARY(4), vbmax "VARBINARY(MAX)",
	g UNIQUEIDENTIFIER
);
INSERT INTO kinds VALUES
	(1, 42, 9000000000, -3, 255, 1, 12.50, 3.25, -1.5, 0.5, 0.25,
	 '2024-01-05', '2024-01-05 08:30:00', '2024-01-05 08:30:00',
	 '2024-01-05 08:30:00.123', '2024-01-05 08:30:00 +01:00', '08:30:00',
	 'Núñez 王', 'José', 'A1', 'Ñ', 'long', 'text',
	 x'00ff', x'0102', x'cafe', '6F9619FF-8B86-D011-B42D-00C04FC964FF'),
	(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL);

CREATE TABLE amounts (
	id INTEGER PRIMARY KEY,
	three DECIMAL(10,3),
	two DECIMAL(10,2)
);

CREATE TABLE ward (
	code VARCHAR(8) PRIMARY KEY,
	name NVARCHAR(40) NOT NULL
);
CREATE TABLE bed (
	id INTEGER PRIMARY KEY,
	ward VARCHAR(8) NOT NULL REFERENCES ward(code),
	label NVARCHAR(20)
);
INSERT INTO ward VALUES ('ICU', 'Intensive care');
