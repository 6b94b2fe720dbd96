/** Read-only queries against a database file another process (the real binary) wrote. */
import sqlite3 from 'sqlite3';

export function query<T>(dbPath: string, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(dbPath, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.all(sql, params, (e, rows) => {
        db.close();
        e ? reject(e) : resolve(rows as T[]);
      });
    });
  });
}
