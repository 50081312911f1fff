--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: costs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.costs (
    request_id text NOT NULL,
    stage text NOT NULL,
    wall_ms double precision,
    cpu_ms double precision,
    gpu_ms double precision,
    energy_j double precision,
    start_ms double precision,
    ttft_ms double precision,
    energy_source text,
    metrics_json text
);


--
-- Name: counts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.counts (
    request_id text NOT NULL,
    stage text NOT NULL,
    name text NOT NULL,
    n double precision NOT NULL
);


--
-- Name: environment; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.environment (
    id text NOT NULL,
    fingerprint_json text NOT NULL
);


--
-- Name: errors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.errors (
    request_id text NOT NULL,
    stage text,
    message text NOT NULL
);


--
-- Name: quality; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.quality (
    run_id text NOT NULL,
    scenario text NOT NULL,
    metric text NOT NULL,
    sample bigint NOT NULL,
    score double precision
);


--
-- Name: request; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.request (
    id text NOT NULL,
    run_id text NOT NULL,
    scenario text NOT NULL,
    idx bigint NOT NULL,
    trace_id text,
    wall_ms double precision,
    cpu_ms double precision,
    energy_j double precision,
    status text NOT NULL,
    item_id text,
    nodeid text
);


--
-- Name: run; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.run (
    id text NOT NULL,
    ts text NOT NULL,
    profile text,
    git_sha text,
    config_json text,
    env_id text,
    branch text,
    dirty bigint,
    ragcost_version text,
    price_rates_hash text
);


--
-- Name: run_metric; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.run_metric (
    run_id text NOT NULL,
    scenario text NOT NULL,
    metric_key text NOT NULL,
    stat text NOT NULL,
    value double precision NOT NULL,
    se double precision,
    n bigint NOT NULL,
    source text,
    verdict text
);


--
-- Name: schema_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_version (
    version bigint NOT NULL,
    applied_at text NOT NULL
);


--
-- Name: tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tokens (
    request_id text NOT NULL,
    stage text NOT NULL,
    kind text NOT NULL,
    tokens double precision NOT NULL,
    model text,
    source text
);


--
-- Data for Name: costs; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.costs VALUES ('9e02414d549d488e8debef98eaa9f89c', 'bm25_search', 0.063426, 0.068344, NULL, 0.00027337600000000003, 0.039922, NULL, 'estimated', '{"energy_cpu_j": 0.00027337600000000003}');
INSERT INTO public.costs VALUES ('9e02414d549d488e8debef98eaa9f89c', 'generate', 0.097874, 0.100091, NULL, 0.000400364, 0.152617, 0.078723, 'estimated', '{"energy_cpu_j": 0.000400364}');
INSERT INTO public.costs VALUES ('58fff92bc7b94dafbf2fc3b8609c23c2', 'bm25_search', 0.03341, 0.035163, NULL, 0.000140652, 0.009421, NULL, 'estimated', '{"energy_cpu_j": 0.000140652}');
INSERT INTO public.costs VALUES ('58fff92bc7b94dafbf2fc3b8609c23c2', 'generate', 0.068822, 0.074025, NULL, 0.0002961, 0.0747, 0.054894, 'estimated', '{"energy_cpu_j": 0.0002961}');
INSERT INTO public.costs VALUES ('a72ff9ff5ddc49aeab116a05543c2411', 'bm25_search', 0.0588, 0.06071, NULL, 0.00024284, 0.014021, NULL, 'estimated', '{"energy_cpu_j": 0.00024284}');
INSERT INTO public.costs VALUES ('a72ff9ff5ddc49aeab116a05543c2411', 'generate', 5.77249, 0.158455, NULL, 0.0006338200000000001, 0.100395, 0.07849, 'estimated', '{"energy_cpu_j": 0.0006338200000000001}');
INSERT INTO public.costs VALUES ('685d743225c049d584630d85004afced', 'bm25_search', 0.05022, 0.051704, NULL, 0.000206816, 0.01872, NULL, 'estimated', '{"energy_cpu_j": 0.000206816}');
INSERT INTO public.costs VALUES ('685d743225c049d584630d85004afced', 'generate', 0.091019, 0.092509, NULL, 0.00037003599999999997, 0.090367, 0.076174, 'estimated', '{"energy_cpu_j": 0.00037003599999999997}');
INSERT INTO public.costs VALUES ('04583bf8d53f45f7bab8814f0eb5747e', 'bm25_search', 0.035068, 0.036387, NULL, 0.000145548, 0.007875, NULL, 'estimated', '{"energy_cpu_j": 0.000145548}');
INSERT INTO public.costs VALUES ('04583bf8d53f45f7bab8814f0eb5747e', 'generate', 0.066779, 0.068006, NULL, 0.000272024, 0.059952, 0.055456, 'estimated', '{"energy_cpu_j": 0.000272024}');
INSERT INTO public.costs VALUES ('d1a378a95a21439a9281050bacd8299e', 'bm25_search', 0.033098, 0.034436, NULL, 0.000137744, 0.006708, NULL, 'estimated', '{"energy_cpu_j": 0.000137744}');
INSERT INTO public.costs VALUES ('d1a378a95a21439a9281050bacd8299e', 'generate', 0.067982, 0.069143, NULL, 0.000276572, 0.055964, 0.05387, 'estimated', '{"energy_cpu_j": 0.000276572}');
INSERT INTO public.costs VALUES ('43e88daac4e74c14bab772b2f40b061d', 'bm25_search', 0.085665, 0.090777, NULL, 0.000363108, 0.042755, NULL, 'estimated', '{"energy_cpu_j": 0.000363108}');
INSERT INTO public.costs VALUES ('43e88daac4e74c14bab772b2f40b061d', 'generate', 0.130245, 0.133115, NULL, 0.00053246, 0.189913, 0.104833, 'estimated', '{"energy_cpu_j": 0.00053246}');
INSERT INTO public.costs VALUES ('05202f4e95474d9dbd8265346242e9ec', 'bm25_search', 0.055786, 0.058459, NULL, 0.000233836, 0.017053, NULL, 'estimated', '{"energy_cpu_j": 0.000233836}');
INSERT INTO public.costs VALUES ('05202f4e95474d9dbd8265346242e9ec', 'generate', 0.108212, 0.110228, NULL, 0.000440912, 0.116152, 0.08776, 'estimated', '{"energy_cpu_j": 0.000440912}');
INSERT INTO public.costs VALUES ('5bafdf9fe4c143659005f338c4435fe6', 'bm25_search', 0.100519, 0.104832, NULL, 0.000419328, 0.068814, NULL, 'estimated', '{"energy_cpu_j": 0.000419328}');
INSERT INTO public.costs VALUES ('5bafdf9fe4c143659005f338c4435fe6', 'generate', 0.128937, 0.131489, NULL, 0.000525956, 0.225003, 0.105039, 'estimated', '{"energy_cpu_j": 0.000525956}');
INSERT INTO public.costs VALUES ('713eacb25fd345069a4bfcc3f100fc59', 'bm25_search', 0.058005, 0.059907, NULL, 0.000239628, 0.016776, NULL, 'estimated', '{"energy_cpu_j": 0.000239628}');
INSERT INTO public.costs VALUES ('713eacb25fd345069a4bfcc3f100fc59', 'generate', 0.174998, 0.177652, NULL, 0.000710608, 0.107191, 0.151216, 'estimated', '{"energy_cpu_j": 0.000710608}');
INSERT INTO public.costs VALUES ('8893a0b114dd4700aeece8cea7661586', 'bm25_search', 0.061961, 0.064008, NULL, 0.000256032, 0.015952, NULL, 'estimated', '{"energy_cpu_j": 0.000256032}');
INSERT INTO public.costs VALUES ('8893a0b114dd4700aeece8cea7661586', 'generate', 0.113186, 0.114796, NULL, 0.000459184, 0.106114, 0.092186, 'estimated', '{"energy_cpu_j": 0.000459184}');
INSERT INTO public.costs VALUES ('af1048783d3a46c5a07115e2a2c3f8e9', 'bm25_search', 0.054691, 0.056693, NULL, 0.000226772, 0.013543, NULL, 'estimated', '{"energy_cpu_j": 0.000226772}');
INSERT INTO public.costs VALUES ('af1048783d3a46c5a07115e2a2c3f8e9', 'generate', 0.115448, 0.117623, NULL, 0.00047049200000000003, 0.097282, 0.091206, 'estimated', '{"energy_cpu_j": 0.00047049200000000003}');


--
-- Data for Name: counts; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.counts VALUES ('9e02414d549d488e8debef98eaa9f89c', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('58fff92bc7b94dafbf2fc3b8609c23c2', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('a72ff9ff5ddc49aeab116a05543c2411', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('685d743225c049d584630d85004afced', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('04583bf8d53f45f7bab8814f0eb5747e', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('d1a378a95a21439a9281050bacd8299e', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('43e88daac4e74c14bab772b2f40b061d', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('05202f4e95474d9dbd8265346242e9ec', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('5bafdf9fe4c143659005f338c4435fe6', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('713eacb25fd345069a4bfcc3f100fc59', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('8893a0b114dd4700aeece8cea7661586', 'bm25_search', 'candidates', 3);
INSERT INTO public.counts VALUES ('af1048783d3a46c5a07115e2a2c3f8e9', 'bm25_search', 'candidates', 3);


--
-- Data for Name: environment; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.environment VALUES ('4336e064fef3', '{"comparable": {"cpu": "Intel(R) Xeon(R) Processor", "cpus": 2, "energy": ["estimate:4W/thread"], "gpus": [], "machine": "x86_64"}, "git": {"branch": "main", "commit": "0da8d9f4c0fedecdb1633bb63a0b315a0b342845", "dirty": true}, "id": "4336e064fef3", "implementation": "CPython", "meters": {"unavailable": [{"name": "rapl", "reason": "no /sys/class/powercap (not Linux, or no RAPL exposed in this VM/container)"}, {"name": "nvml", "reason": "NVML could not start: NVML Shared Library Not Found (libnvidia-ml.so.1 was not found: no NVIDIA driver is installed on this host)"}], "used": [{"kind": "timer", "name": "process"}, {"domains": ["cpu"], "kind": "estimated", "model": "cpu_seconds x watts_per_thread", "name": "estimate", "watts_per_thread": 4.0, "watts_per_thread_source": "default"}], "xdist_workers": 1}, "packages": {"pytest": "9.2.0", "pytest-benchmark": "5.3.1", "pytest-ragcost": "0.1.0", "pytest-xdist": "3.8.0", "ragas": "0.4.3", "tiktoken": "0.14.0"}, "python": "3.11.7", "release": "6.18.44-fc-v1147", "system": "Linux"}');


--
-- Data for Name: errors; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: quality; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'hit_at_k', 0, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'hit_at_k', 1, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'hit_at_k', 2, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'hit_at_k', 3, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'hit_at_k', 4, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'hit_at_k', 5, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'mrr', 0, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'mrr', 1, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'mrr', 2, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'mrr', 3, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'mrr', 4, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'mrr', 5, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_precision', 0, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_precision', 1, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_precision', 2, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_precision', 3, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_precision', 4, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_precision', 5, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_recall', 0, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_recall', 1, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_recall', 2, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_recall', 3, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_recall', 4, 1);
INSERT INTO public.quality VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'context_recall', 5, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'hit_at_k', 0, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'hit_at_k', 1, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'hit_at_k', 2, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'hit_at_k', 3, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'hit_at_k', 4, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'hit_at_k', 5, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'mrr', 0, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'mrr', 1, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'mrr', 2, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'mrr', 3, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'mrr', 4, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'mrr', 5, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_precision', 0, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_precision', 1, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_precision', 2, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_precision', 3, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_precision', 4, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_precision', 5, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_recall', 0, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_recall', 1, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_recall', 2, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_recall', 3, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_recall', 4, 1);
INSERT INTO public.quality VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'context_recall', 5, 1);


--
-- Data for Name: request; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.request VALUES ('9e02414d549d488e8debef98eaa9f89c', 'e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 0, 'a54e364f5d3d026ef3209742525afbdf', 0.33879, 0.341563, 0.001366252, 'ok', '74f3f4b7389edd9e', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('58fff92bc7b94dafbf2fc3b8609c23c2', 'e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 1, '918fdf40a35c69aca5f5b189f46ae33b', 0.232578, 0.234562, 0.000938248, 'ok', '0bfbec3259472e51', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('a72ff9ff5ddc49aeab116a05543c2411', 'e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 2, '5eb3a9459a5b7b31d31416b83396fe2a', 6.050315, 0.427701, 0.001710804, 'ok', '0bd80c81f1279869', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('685d743225c049d584630d85004afced', 'e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 3, 'ce62feead7701b828e87e24a9e50c9a9', 0.233776, 0.235276, 0.0009411040000000001, 'ok', '80455ef4e175ac39', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('04583bf8d53f45f7bab8814f0eb5747e', 'e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 4, 'd3c08709873ba65d756ac2a506f96213', 0.173285, 0.174691, 0.000698764, 'ok', 'f450b1da30c7e155', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('d1a378a95a21439a9281050bacd8299e', 'e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 5, 'f545b06337ca92bb6bfedafda5edd273', 0.166873, 0.167927, 0.000671708, 'ok', '4bee0c70bfe79cb2', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('43e88daac4e74c14bab772b2f40b061d', '089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 0, 'd1a4948a040108956d1054edcd91ed2f', 0.441904, 0.445606, 0.0017824240000000001, 'ok', '74f3f4b7389edd9e', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('05202f4e95474d9dbd8265346242e9ec', '089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 1, '2c3e55dd41dba73d686dad39beffe2c8', 0.318234, 0.320483, 0.0012819320000000002, 'ok', '0bfbec3259472e51', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('5bafdf9fe4c143659005f338c4435fe6', '089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 2, 'bff35a1f64113f9cc83b7058cd43d91f', 0.468029, 0.474448, 0.001897792, 'ok', '0bd80c81f1279869', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('713eacb25fd345069a4bfcc3f100fc59', '089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 3, '0123c6aef12e74a1cf63b858b47f8bfa', 0.378101, 0.380973, 0.001523892, 'ok', '80455ef4e175ac39', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('8893a0b114dd4700aeece8cea7661586', '089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 4, 'bfce2f04d85749d1e34c4b923bf9c500', 0.305046, 0.306686, 0.001226744, 'ok', 'f450b1da30c7e155', 'test_quickstart.py::test_qa');
INSERT INTO public.request VALUES ('af1048783d3a46c5a07115e2a2c3f8e9', '089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 5, '04424c6ce3475833ffa2ba6df08f5fec', 0.293568, 0.295523, 0.001182092, 'ok', '4bee0c70bfe79cb2', 'test_quickstart.py::test_qa');


--
-- Data for Name: run; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.run VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', '2026-12-03T10:14:51.834032+00:00', 'bless', '0da8d9f4c0fedecdb1633bb63a0b315a0b342845', '{"config": "/tmp/ragcost-v2-z_hsfr37/examples/quickstart/ragcost.yaml", "meters": ["auto"], "requests": 6, "update": "all"}', '4336e064fef3', 'main', 1, '0.1.0', 'ea41c940a5bd');
INSERT INTO public.run VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', '2026-12-03T10:15:07.419786+00:00', 'run', '0da8d9f4c0fedecdb1633bb63a0b315a0b342845', '{"config": "/tmp/ragcost-v2-z_hsfr37/examples/quickstart/ragcost.yaml", "meters": ["auto"], "requests": 6, "update": null}', '4336e064fef3', 'main', 1, '0.1.0', 'ea41c940a5bd');


--
-- Data for Name: run_metric; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'wall_ms', 'mean', 1.1992695, 0.9705363516317066, 6, 'timer', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'wall_ms', 'median', 0.23317700000000002, 0.9199553905790783, 6, 'timer', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'cpu_ms', 'mean', 0.26362, 0.04151744725614362, 6, 'timer', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'cpu_ms', 'median', 0.234919, 0.055390380451481494, 6, 'timer', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'peak_rss_mb', 'mean', 167.87109375, 0, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'peak_rss_mb', 'median', 167.87109375, 0, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'ctx_switches', 'mean', 0.16666666666666666, 0.16666666666666669, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'ctx_switches', 'median', 0, 0.1576982481670291, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'page_faults', 'mean', 0, 0, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'page_faults', 'median', 0, 0, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'energy_cpu_j', 'mean', 0.00105448, 0.00016606978902457444, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'energy_cpu_j', 'median', 0.0009396760000000001, 0.00022156152180592597, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'energy_j', 'mean', 0.00105448, 0.00016606978902457444, 6, 'estimated', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'energy_j', 'median', 0.0009396760000000001, 0.00022156152180592597, 6, 'estimated', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'ttft_ms', 'mean', 0.155267, 0.018959619043289522, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'ttft_ms', 'median', 0.1480675, 0.025310936343459444, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'count_candidates', 'mean', 3, 0, 6, 'given', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'tokens_prompt', 'mean', 142.66666666666666, 1.0540925533894598, 6, 'counted', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'tokens_context', 'mean', 101, 1.460593486680443, 6, 'counted', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'tokens_completion', 'mean', 19.833333333333332, 2.6760252448568402, 6, 'counted', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'tokens_total', 'mean', 162.5, 2.3629078131263044, 6, 'derived', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'errors', 'mean', 0, 0, 6, 'given', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'cost_usd', 'mean', 3.33e-05, 1.5365545873804804e-06, 6, 'genai-prices 0.2.3 #b502582e', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.count_candidates', 'mean', 3, 0, 6, 'given', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.wall_ms', 'mean', 0.045670333333333334, 0.0055651897941080535, 6, 'timer', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.wall_ms', 'median', 0.042644, 0.009046289811763319, 6, 'timer', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.cpu_ms', 'mean', 0.04779066666666667, 0.005979162603947517, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.cpu_ms', 'median', 0.0440455, 0.009368529137590316, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.energy_cpu_j', 'mean', 0.00019116266666666668, 2.391665041579007e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.energy_cpu_j', 'median', 0.000176182, 3.747411655036127e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.energy_j', 'mean', 0.00019116266666666668, 2.391665041579007e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'bm25_search.energy_j', 'median', 0.000176182, 3.747411655036127e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.ttft_ms', 'mean', 0.06626783333333333, 0.005172397151654584, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.ttft_ms', 'median', 0.065815, 0.009139952183385217, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.wall_ms', 'mean', 1.0274943333333335, 0.9490144783404403, 6, 'timer', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.wall_ms', 'median', 0.0799205, 0.8983750033523737, 6, 'timer', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.cpu_ms', 'mean', 0.09370483333333333, 0.014006911099921754, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.cpu_ms', 'median', 0.083267, 0.016038774841992745, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.energy_cpu_j', 'mean', 0.00037481933333333335, 5.6027644399687024e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.energy_cpu_j', 'median', 0.00033306799999999995, 6.415509936797098e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.energy_j', 'mean', 0.00037481933333333335, 5.6027644399687024e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.energy_j', 'median', 0.00033306799999999995, 6.415509936797098e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.tokens_prompt', 'mean', 142.66666666666666, 1.0540925533894598, 6, 'counted', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.tokens_context', 'mean', 101, 1.460593486680443, 6, 'counted', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.tokens_completion', 'mean', 19.833333333333332, 2.6760252448568402, 6, 'counted', NULL);
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.tokens_total', 'mean', 162.5, 2.3629078131263044, 6, 'derived', 'PASS');
INSERT INTO public.run_metric VALUES ('e63f7769703f4a7ea0ba1f1ebe48bb8d', 'quickstart-qa', 'generate.cost_usd', 'mean', 3.33e-05, 1.5365545873804804e-06, 6, 'genai-prices 0.2.3 #b502582e', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'wall_ms', 'mean', 0.36748033333333335, 0.03030291263962005, 6, 'timer', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'wall_ms', 'median', 0.3481675, 0.04707962390636116, 6, 'timer', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'cpu_ms', 'mean', 0.3706198333333333, 0.03095759084232995, 6, 'timer', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'cpu_ms', 'median', 0.35072800000000004, 0.04786780720568356, 6, 'timer', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'peak_rss_mb', 'mean', 165.8046875, 0, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'peak_rss_mb', 'median', 165.8046875, 0, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'ctx_switches', 'mean', 0.16666666666666666, 0.16666666666666669, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'ctx_switches', 'median', 0, 0.1576982481670291, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'page_faults', 'mean', 0.16666666666666666, 0.16666666666666669, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'page_faults', 'median', 0, 0.1576982481670291, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'energy_cpu_j', 'mean', 0.0014824793333333332, 0.00012383036336931978, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'energy_cpu_j', 'median', 0.001402912, 0.00019147122882273425, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'energy_j', 'mean', 0.0014824793333333332, 0.00012383036336931978, 6, 'estimated', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'energy_j', 'median', 0.001402912, 0.00019147122882273425, 6, 'estimated', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'ttft_ms', 'mean', 0.24564916666666667, 0.023767446443145254, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'ttft_ms', 'median', 0.23115950000000002, 0.035756231892294946, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'count_candidates', 'mean', 3, 0, 6, 'given', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'tokens_prompt', 'mean', 142.66666666666666, 1.0540925533894598, 6, 'counted', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'tokens_context', 'mean', 101, 1.460593486680443, 6, 'counted', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'tokens_completion', 'mean', 19.833333333333332, 2.6760252448568402, 6, 'counted', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'tokens_total', 'mean', 162.5, 2.3629078131263044, 6, 'derived', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'errors', 'mean', 0, 0, 6, 'given', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'cost_usd', 'mean', 3.33e-05, 1.5365545873804804e-06, 6, 'genai-prices 0.2.3 #b502582e', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.count_candidates', 'mean', 3, 0, 6, 'given', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.wall_ms', 'mean', 0.06943783333333334, 0.007788483422835141, 6, 'timer', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.wall_ms', 'median', 0.059983, 0.01092445096162851, 6, 'timer', 'INCONCLUSIVE');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.cpu_ms', 'mean', 0.072446, 0.00828069662931004, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.cpu_ms', 'median', 0.0619575, 0.01183356205553511, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.energy_cpu_j', 'mean', 0.000289784, 3.3122786517240163e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.energy_cpu_j', 'median', 0.00024783, 4.733424822214046e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.energy_j', 'mean', 0.000289784, 3.3122786517240163e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'bm25_search.energy_j', 'median', 0.00024783, 4.733424822214046e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.ttft_ms', 'mean', 0.10537333333333333, 0.009638122969633546, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.ttft_ms', 'median', 0.0985095, 0.01026143764700335, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.wall_ms', 'mean', 0.12850433333333333, 0.009969580615273865, 6, 'timer', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.wall_ms', 'median', 0.1221925, 0.01085498582317331, 6, 'timer', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.cpu_ms', 'mean', 0.13081716666666668, 0.010089450944482119, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.cpu_ms', 'median', 0.124556, 0.01110198441560213, 6, 'timer', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.energy_cpu_j', 'mean', 0.0005232686666666667, 4.035780377792848e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.energy_cpu_j', 'median', 0.000498224, 4.440793766240851e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.energy_j', 'mean', 0.0005232686666666667, 4.035780377792848e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.energy_j', 'median', 0.000498224, 4.440793766240851e-05, 6, 'estimated', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.tokens_prompt', 'mean', 142.66666666666666, 1.0540925533894598, 6, 'counted', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.tokens_context', 'mean', 101, 1.460593486680443, 6, 'counted', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.tokens_completion', 'mean', 19.833333333333332, 2.6760252448568402, 6, 'counted', NULL);
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.tokens_total', 'mean', 162.5, 2.3629078131263044, 6, 'derived', 'PASS');
INSERT INTO public.run_metric VALUES ('089e1e7ec12f4d2f9b0b03588ca1a825', 'quickstart-qa', 'generate.cost_usd', 'mean', 3.33e-05, 1.5365545873804804e-06, 6, 'genai-prices 0.2.3 #b502582e', NULL);


--
-- Data for Name: schema_version; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_version VALUES (1, '2026-12-03T10:14:49.656220+00:00');
INSERT INTO public.schema_version VALUES (2, '2026-12-03T10:14:49.670420+00:00');


--
-- Data for Name: tokens; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.tokens VALUES ('9e02414d549d488e8debef98eaa9f89c', 'generate', 'prompt', 142, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('9e02414d549d488e8debef98eaa9f89c', 'generate', 'context', 101, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('9e02414d549d488e8debef98eaa9f89c', 'generate', 'completion', 17, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('58fff92bc7b94dafbf2fc3b8609c23c2', 'generate', 'prompt', 146, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('58fff92bc7b94dafbf2fc3b8609c23c2', 'generate', 'context', 105, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('58fff92bc7b94dafbf2fc3b8609c23c2', 'generate', 'completion', 21, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('a72ff9ff5ddc49aeab116a05543c2411', 'generate', 'prompt', 141, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('a72ff9ff5ddc49aeab116a05543c2411', 'generate', 'context', 97, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('a72ff9ff5ddc49aeab116a05543c2411', 'generate', 'completion', 14, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('685d743225c049d584630d85004afced', 'generate', 'prompt', 145, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('685d743225c049d584630d85004afced', 'generate', 'context', 105, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('685d743225c049d584630d85004afced', 'generate', 'completion', 15, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('04583bf8d53f45f7bab8814f0eb5747e', 'generate', 'prompt', 143, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('04583bf8d53f45f7bab8814f0eb5747e', 'generate', 'context', 101, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('04583bf8d53f45f7bab8814f0eb5747e', 'generate', 'completion', 20, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('d1a378a95a21439a9281050bacd8299e', 'generate', 'prompt', 139, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('d1a378a95a21439a9281050bacd8299e', 'generate', 'context', 97, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('d1a378a95a21439a9281050bacd8299e', 'generate', 'completion', 32, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('43e88daac4e74c14bab772b2f40b061d', 'generate', 'prompt', 142, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('43e88daac4e74c14bab772b2f40b061d', 'generate', 'context', 101, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('43e88daac4e74c14bab772b2f40b061d', 'generate', 'completion', 17, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('05202f4e95474d9dbd8265346242e9ec', 'generate', 'prompt', 146, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('05202f4e95474d9dbd8265346242e9ec', 'generate', 'context', 105, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('05202f4e95474d9dbd8265346242e9ec', 'generate', 'completion', 21, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('5bafdf9fe4c143659005f338c4435fe6', 'generate', 'prompt', 141, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('5bafdf9fe4c143659005f338c4435fe6', 'generate', 'context', 97, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('5bafdf9fe4c143659005f338c4435fe6', 'generate', 'completion', 14, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('713eacb25fd345069a4bfcc3f100fc59', 'generate', 'prompt', 145, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('713eacb25fd345069a4bfcc3f100fc59', 'generate', 'context', 105, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('713eacb25fd345069a4bfcc3f100fc59', 'generate', 'completion', 15, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('8893a0b114dd4700aeece8cea7661586', 'generate', 'prompt', 143, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('8893a0b114dd4700aeece8cea7661586', 'generate', 'context', 101, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('8893a0b114dd4700aeece8cea7661586', 'generate', 'completion', 20, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('af1048783d3a46c5a07115e2a2c3f8e9', 'generate', 'prompt', 139, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('af1048783d3a46c5a07115e2a2c3f8e9', 'generate', 'context', 97, 'gpt-4o-mini', 'counted');
INSERT INTO public.tokens VALUES ('af1048783d3a46c5a07115e2a2c3f8e9', 'generate', 'completion', 32, 'gpt-4o-mini', 'counted');


--
-- Name: environment environment_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.environment
    ADD CONSTRAINT environment_pkey PRIMARY KEY (id);


--
-- Name: request request_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.request
    ADD CONSTRAINT request_pkey PRIMARY KEY (id);


--
-- Name: run_metric run_metric_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.run_metric
    ADD CONSTRAINT run_metric_pkey PRIMARY KEY (run_id, scenario, metric_key, stat);


--
-- Name: run run_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.run
    ADD CONSTRAINT run_pkey PRIMARY KEY (id);


--
-- Name: schema_version schema_version_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (version);


--
-- Name: costs_request; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX costs_request ON public.costs USING btree (request_id);


--
-- Name: request_item; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX request_item ON public.request USING btree (scenario, item_id);


--
-- Name: request_run; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX request_run ON public.request USING btree (run_id);


--
-- Name: run_env_ts; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX run_env_ts ON public.run USING btree (env_id, ts);


--
-- Name: run_git_sha; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX run_git_sha ON public.run USING btree (git_sha);


--
-- Name: run_metric_key; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX run_metric_key ON public.run_metric USING btree (scenario, metric_key, stat);


--
-- Name: tokens_request; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX tokens_request ON public.tokens USING btree (request_id);


--
-- Name: costs costs_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.costs
    ADD CONSTRAINT costs_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.request(id) ON DELETE CASCADE;


--
-- Name: counts counts_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.counts
    ADD CONSTRAINT counts_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.request(id) ON DELETE CASCADE;


--
-- Name: errors errors_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.errors
    ADD CONSTRAINT errors_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.request(id) ON DELETE CASCADE;


--
-- Name: quality quality_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.quality
    ADD CONSTRAINT quality_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.run(id) ON DELETE CASCADE;


--
-- Name: request request_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.request
    ADD CONSTRAINT request_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.run(id) ON DELETE CASCADE;


--
-- Name: run_metric run_metric_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.run_metric
    ADD CONSTRAINT run_metric_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.run(id) ON DELETE CASCADE;


--
-- Name: tokens tokens_request_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_request_id_fkey FOREIGN KEY (request_id) REFERENCES public.request(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


