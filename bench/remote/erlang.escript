#!/usr/bin/env escript
%%! -sname asyncoro_bench_a -setcookie asyncoro_bench
%% Erlang distribution between two nodes on this host, for bench/remote.ts: messages per second
%% from one process to a process on the other node, then round trips one at a time.
%% Usage: escript erlang.escript <messages> <round trips>; prints one line of JSON.
-mode(compile).

main([NStr, RStr]) ->
    N = list_to_integer(NStr),
    R = list_to_integer(RStr),
    Name = list_to_atom("asyncoro_bench_b" ++ os:getpid()),
    {ok, _Peer, Node} = peer:start_link(#{name => Name, args => ["-setcookie", atom_to_list(erlang:get_cookie())]}),
    % The two processes' code, compiled here and loaded on both nodes (nothing on disk).
    Code = "-module(abench).\n-export([sink/1, echo/0]).\n"
           "sink(C) -> receive {done, From} -> From ! {count, C}, sink(0); _ -> sink(C + 1) end.\n"
           "echo() -> receive {From, X} -> From ! X, echo() end.\n",
    {ok, Mod, Bin} = compile_string(Code),
    {module, Mod} = code:load_binary(Mod, "abench.erl", Bin),
    {module, Mod} = erpc:call(Node, code, load_binary, [Mod, "abench.erl", Bin]),
    Sink = erpc:call(Node, erlang, spawn, [abench, sink, [0]]),
    Echo = erpc:call(Node, erlang, spawn, [abench, echo, []]),
    _ = run(Sink, min(N, 100000)),
    Rate = run(Sink, N),
    Lat = lists:sort(rtt(Echo, R + 200, 0, [])),
    Len = length(Lat),
    P50 = lists:nth(max(1, Len div 2), Lat),
    P99 = lists:nth(max(1, (Len * 99) div 100), Lat),
    io:format("{\"rate\":~.1f,\"p50\":~.1f,\"p99\":~.1f}~n", [Rate, P50 * 1.0, P99 * 1.0]),
    halt(0).

run(Sink, N) ->
    T0 = erlang:monotonic_time(microsecond),
    send_loop(Sink, N, 0),
    Sink ! {done, self()},
    receive {count, N} -> ok end,
    N / ((erlang:monotonic_time(microsecond) - T0) / 1.0e6).

send_loop(_, N, N) -> ok;
send_loop(S, N, I) -> S ! {m, I}, send_loop(S, N, I + 1).

rtt(_, R, R, Acc) -> lists:nthtail(200, lists:reverse(Acc));
rtt(Echo, R, I, Acc) ->
    T = erlang:monotonic_time(nanosecond),
    Echo ! {self(), I},
    receive I -> ok end,
    rtt(Echo, R, I + 1, [(erlang:monotonic_time(nanosecond) - T) / 1000 | Acc]).

compile_string(S) ->
    {ok, Toks, _} = erl_scan:string(S),
    compile:forms(forms(Toks, [], []), [binary]).

forms([], [], Acc) -> lists:reverse(Acc);
forms([{dot, _} = D | T], Cur, Acc) ->
    {ok, F} = erl_parse:parse_form(lists:reverse([D | Cur])),
    forms(T, [], [F | Acc]);
forms([H | T], Cur, Acc) -> forms(T, [H | Cur], Acc).
