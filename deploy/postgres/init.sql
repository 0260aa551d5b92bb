-- One database per service (no table is shared between services).
CREATE DATABASE identity;
CREATE DATABASE matters;
CREATE DATABASE cases;
CREATE DATABASE certs;
CREATE DATABASE eval;
CREATE DATABASE gateway;
