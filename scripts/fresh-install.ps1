# From a Windows machine with only Python (and git) to a working web UI:
#   powershell -ExecutionPolicy Bypass -File fresh-install.ps1 [-ToolSource SOURCE] [-ToolVenv DIR] APP --dir PATH [options]
#   powershell -ExecutionPolicy Bypass -File fresh-install.ps1 -ShowPython
#   powershell -ExecutionPolicy Bypass -File fresh-install.ps1 -Help      (also --help, -h, /?)
# Makes a private venv for webui-repair (default %LOCALAPPDATA%\webui-repair\venv), installs the
# tool into it (from the checkout this script is part of, or the folder or git URL given with
# -ToolSource), then runs `repair install` with the remaining arguments.
# The Python: $env:PYTHON, else `py -3.10` (3.11, 3.12, 3.13), else python/python3 on PATH; each is
# run once to see that it works and is 3.10 or newer (the Microsoft Store stub is skipped).
param(
    [string]$ToolSource = "",
    [switch]$Help,
    [switch]$ShowPython,
    [string]$ToolVenv = (Join-Path $env:LOCALAPPDATA "webui-repair\venv"),
    [Parameter(ValueFromRemainingArguments = $true)][string[]]$RepairArgs
)
$ErrorActionPreference = "Stop"

if ($Help -or ($RepairArgs | Where-Object { $_ -in "--help", "-h", "/?" })) {
    Get-Content $PSCommandPath | Select-Object -Skip 1 -First 9 | ForEach-Object { $_ -replace "^# ?", "" }
    exit 0
}

function Test-Python([string]$exe) {
    if (-not $exe) { return $false }
    & $exe -c "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)" 2>$null | Out-Null
    return ($LASTEXITCODE -eq 0)
}

function Find-Python {
    if (Test-Python $env:PYTHON) { return $env:PYTHON }
    foreach ($v in "3.10", "3.11", "3.12", "3.13") {
        if (Get-Command py -ErrorAction SilentlyContinue) {
            $exe = & py "-$v" -c "import sys; print(sys.executable)" 2>$null
            if ($LASTEXITCODE -eq 0 -and $exe) { return $exe.Trim() }
        }
    }
    foreach ($name in "python", "python3") {
        $cmd = Get-Command $name -ErrorAction SilentlyContinue
        if ($cmd -and $cmd.Source -notlike "*WindowsApps*" -and (Test-Python $cmd.Source)) { return $cmd.Source }
    }
    return $null
}

$python = Find-Python
if (-not $python) {
    Write-Error "fresh-install: no working Python 3.10 or newer found: install Python 3.10 (python.org) first"
    exit 2
}
if ($ShowPython) { & $python -c "import sys, platform; print(sys.executable, '(' + platform.python_version() + ')')"; exit 0 }
if (-not $RepairArgs) { Write-Error "fresh-install: say which app to install (see -Help)"; exit 2 }
if (-not $ToolSource) {
    $here = Split-Path -Parent $PSScriptRoot
    if ((Test-Path (Join-Path $here "setup.cfg")) -and (Test-Path (Join-Path $here "repair"))) { $ToolSource = $here }
    else { Write-Error "fresh-install: say where to install the tool from: -ToolSource CHECKOUT or -ToolSource git+https://..."; exit 2 }
}
if (-not (Get-Command git -ErrorAction SilentlyContinue)) {
    Write-Error "fresh-install: git is not installed: install Git for Windows first"
    exit 2
}
$toolPython = Join-Path $ToolVenv "Scripts\python.exe"
if (-not (Test-Path $toolPython)) {
    Write-Host "==> creating the tool's own venv in $ToolVenv"
    & $python -m venv $ToolVenv
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
Write-Host "==> installing webui-repair ($ToolSource)"
& $toolPython -m pip install --quiet --disable-pip-version-check --upgrade $ToolSource
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
Write-Host "==> repair install $RepairArgs"
& $toolPython -m repair install @RepairArgs
exit $LASTEXITCODE
