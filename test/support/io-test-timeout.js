/**
 * Integration and end-to-end tests do real IO (PostgreSQL, SQLite files, HTTP, child processes) on
 * small machines that run several suites at once: give each test a 60 s budget instead of jest's
 * 5 s default, so a loaded machine does not turn a slow test into a failure. Tests that need longer
 * still set their own timeout. This is a budget, never an assertion about speed.
 */
jest.setTimeout(60_000);
