using System.Runtime.InteropServices;

namespace GruNodeAgent.Runtime;

/// <summary>kill(2): the BCL can only SIGKILL, and a container stop starts with SIGTERM to its main process.</summary>
internal static partial class Signals
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    /// <summary>SIGTERM to the process only, as a container runtime signals PID 1.</summary>
    public static void Terminate(int pid) => _ = kill(pid, SigTerm);

    /// <summary>SIGKILL to the whole process group: every process of the container goes, as when its PID namespace ends.</summary>
    public static void KillGroup(int pgid) => _ = kill(-pgid, SigKill);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
