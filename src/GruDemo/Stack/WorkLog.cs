using Microsoft.Extensions.Logging;

namespace GruDemo.Stack;

/// <summary>
/// Logs of the in-process parts (node agent, LocalCluster) into one file under the demo's directory: the terminal belongs
/// to the live view. Written here because Microsoft.Extensions.Logging has no file provider.
/// </summary>
internal sealed class WorkLog : ILoggerProvider
{
    private readonly StreamWriter _writer;

    public WorkLog(string path)
    {
        Path = path;
        _writer = new StreamWriter(path, append: true) { AutoFlush = true };
    }

    /// <summary>The log file.</summary>
    public string Path { get; }

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    public void Dispose()
    {
        lock (_writer) _writer.Dispose();
    }

    private void Write(string line)
    {
        lock (_writer)
        {
            try
            {
                _writer.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // a late line from a part still stopping
            }
        }
    }

    private sealed class FileLogger(WorkLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            owner.Write($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
        }
    }
}
