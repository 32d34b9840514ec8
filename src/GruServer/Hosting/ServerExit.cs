namespace GruServer.Hosting;

/// <summary>The exit code the process ends with; set when a component decides the server cannot run.</summary>
internal sealed class ServerExit
{
    private int _code;

    public int Code => Volatile.Read(ref _code);

    public void Fail(int code) => Interlocked.CompareExchange(ref _code, code, 0);
}
