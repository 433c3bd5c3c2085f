"""Two `ipt administer` processes, for two clients, on one database at the same time: both succeed.

Each answer is its own write transaction (BEGIN IMMEDIATE with a busy timeout, WAL), so the processes
queue for the write lock instead of failing. The answers are interleaved line by line so both processes
are mid-administration together. Totals summed by hand: PHQ-9 nine 1s = 9 (mild, 5-9; Kroenke, Spitzer &
Williams 2001); nine 2s = 18 (moderately severe, 15-19).
"""

from conftest import peek, run_ipt
from test_kill_resume import CEILING, Live, setup_client


def test_two_processes_two_clients_same_database(engine):
    setup_client("a")
    setup_client("b")
    first, second = Live("administer", "a", "phq9"), Live("administer", "b", "phq9")
    for n in range(1, 11):
        first.wait_for(f"Item {n} of 10")
        second.wait_for(f"Item {n} of 10")
        first.type("1" if n < 10 else "0")
        second.type("2" if n < 10 else "0")
    for live in (first, second):
        live.proc.stdin.close()
        assert live.proc.wait(timeout=CEILING) == 0, live.proc.stderr.read().decode()
    first.wait_for("Total: 9, mild")
    second.wait_for("Total: 18, moderately severe")

    rows = peek(
        engine,
        "SELECT c.client_id, a.status, sc.total, (SELECT count(*) FROM responses r WHERE r.administration_id = a.id)"
        " FROM administrations a JOIN sessions s ON s.id = a.session_id JOIN courses c ON c.id = s.course_id"
        " JOIN scores sc ON sc.administration_id = a.id AND sc.current = 1 ORDER BY c.client_id"
    )
    assert rows == [("a", "complete", 9.0, 10), ("b", "complete", 18.0, 10)]


def test_paper_entry_while_another_process_administers(engine):
    setup_client("a")
    setup_client("b")
    live = Live("administer", "a", "gad7")
    live.wait_for("Item 1 of 8")
    live.type("1")
    live.wait_for("Item 2 of 8")
    entered = run_ipt("administer", "b", "phq9", "--answers", "0,0,0,0,0,0,0,0,0")
    assert entered.returncode == 0, entered.stderr
    for n in range(2, 9):
        live.type("1")
    live.proc.stdin.close()
    assert live.proc.wait(timeout=CEILING) == 0
    # GAD-7: items 1-7 summed (Spitzer et al. 2006): 7; item 8 (difficulty) is not scored.
    live.wait_for("Total: 7, mild")
